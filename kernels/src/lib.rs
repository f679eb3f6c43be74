//! rawarrow's hand-tuned SIMD kernels.
//!
//! Every `unsafe` SIMD routine of rawarrow lives in this crate, once per instruction set, next to a
//! naive reference and a fast scalar version, behind a safe function that dispatches on the CPU
//! features detected at run time. The root crate holds no SIMD code.
//!
//! The kernels themselves (sequence nibbles, quality, byte-plane unshuffle, delta decoding,
//! TOF→m/z, onset gate, CIGAR text) are added one per module under `src/<op>/`.
#![no_std]
