//! rawarrow's hand-tuned SIMD kernels.
//!
//! Every `unsafe` SIMD routine of rawarrow lives in this crate, once per instruction set, next to
//! a naive reference and a fast scalar version, behind a safe function that dispatches on the CPU
//! features detected at run time ([`cpu`]). No kernel allocates: callers pass output buffers.
//!
//! | module | kernel | implementations |
//! |---|---|---|
//! | [`seq`] | BAM 4-bit bases → ASCII | scalar, SSSE3, AVX2, AVX-512 VBMI, NEON |
//! | [`qual`] | BAM qualities → phred+33, absent/saturation report | scalar, SSE4.1, AVX2, AVX-512 BW, NEON |
//! | [`cigar`] | BAM CIGAR ops → SAM text, reference and query spans | scalar |
//! | [`cstr`] | NUL-terminated aux strings → text, ASCII test | scalar, AVX2, AVX-512 BW |
//! | [`unshuffle`] | 4 byte planes → `u32`, also split into pairs (timsTOF) | scalar, SSSE3, AVX2, AVX-512 VBMI, NEON (pairs: scalar, AVX2, AVX-512 VBMI) |
//! | [`delta`] | per-scan prefix sums − 1 (timsTOF) | scalar, SSE4.1, AVX2, AVX-512 F |
//! | [`calib`] | TOF → m/z, scan → 1/K0 (`f64`) | scalar, AVX2, AVX-512 F |
//! | [`runs`] | run-length expansion (per-scan and per-frame columns) | scalar, AVX2, AVX-512 F |
//! | [`onset`] | indices of `u8` values above a threshold | scalar, AVX2, AVX-512 BW |
//! | [`rans`] | CRAM's rANS 4x8 and rANS Nx16 entropy decoders (STRIPE, RLE, PACK, CAT) | scalar; Nx16's 32-state order 0 and 1: AVX2, AVX-512 F |
//! | [`arith`] | CRAM's adaptive arithmetic coder: range decoder, adaptive models, order 0/1, RLE | scalar |
//! | [`fqzcomp`] | CRAM's fqzcomp quality codec (context models over the range decoder) | scalar |
//! | [`md5`] | MD5 of many messages at once (CRAM's reference checks), a message per lane | scalar; AVX2 (8 lanes), AVX-512 F (16) |
//! | [`tok3`] | CRAM's name tokeniser: read names from token streams (rANS or arithmetic-coded) | scalar |
//! | [`cache`] | prefetch of the lines of a slice (no output) | x86-64 `prefetcht0`, else a read per line |
//!
//! Each instruction-set implementation is a zero-sized token type (`Avx2`, `Avx512`, ...) whose
//! only constructor, `new() -> Option<Self>`, proves the CPU has the features; its methods are
//! safe. The free functions of each module dispatch to the best implementation allowed by
//! [`cpu::level`] (through the tokens, or for the small hot calls of `seq` and `qual` through a
//! cached function pointer), which the `RAWARROW_KERNELS` environment variable can cap
//! (`scalar|ssse3|avx2|avx512f|avx512bw|avx512|neon`) to force the slower paths in tests and
//! benchmarks. Each kernel asks for the features it uses: the kernels on 32- and 64-bit lanes
//! (`delta`, `calib`, `runs`) need AVX-512 F alone ([`cpu::Level::Avx512F`]: Knights Landing
//! and up); the byte kernels (`qual`, `cstr`, `onset`) AVX-512 F/BW/VL
//! ([`cpu::Level::Avx512Bw`]: Skylake-SP, Cascade Lake); `seq` and `unshuffle` need VBMI's byte
//! permutes as well.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod arith;
pub mod cache;
pub mod calib;
pub mod cigar;
pub mod cpu;
pub mod cstr;
pub mod decimal;
pub mod delta;
pub mod fqzcomp;
pub mod md5;
pub mod onset;
pub mod qual;
pub mod rans;
pub mod runs;
pub mod seq;
pub mod tok3;
pub mod unshuffle;

/// Declares an instruction-set token: a zero-sized proof, obtainable only through `new()`, that
/// the CPU has the features its methods need.
macro_rules! isa_token {
    ($(#[$doc:meta])* $name:ident, $has:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name(());

        impl $name {
            /// `Some` only when the CPU has the features.
            #[inline]
            pub fn new() -> Option<Self> {
                $has().then_some(Self(()))
            }
        }
    };
}
pub(crate) use isa_token;

/// Calls through a function pointer resolved on first use and cached (memchr's `unsafe_ifunc!`):
/// for hot, small calls where even a branch on the cached level shows.
///
/// `$resolve` must return only implementations whose target features are present.
macro_rules! ifunc {
    (unsafe fn($($arg:ident: $ty:ty),*) $(-> $ret:ty)?, $resolve:expr) => {{
        use core::sync::atomic::{AtomicPtr, Ordering};
        type Fn = unsafe fn($($ty),*) $(-> $ret)?;
        static FN: AtomicPtr<()> = AtomicPtr::new(detect as Fn as *mut ());
        unsafe fn detect($($arg: $ty),*) $(-> $ret)? {
            let f: Fn = $resolve;
            FN.store(f as *mut (), Ordering::Relaxed);
            // SAFETY: the resolver returns only implementations whose features are present.
            unsafe { f($($arg),*) }
        }
        let p = FN.load(Ordering::Relaxed);
        // SAFETY: FN only ever holds `detect` or a pointer the resolver returned, both of type Fn.
        let f = unsafe { core::mem::transmute::<*mut (), Fn>(p) };
        // SAFETY: `f` is `detect` or an implementation whose target features are present.
        unsafe { f($($arg),*) }
    }};
}
pub(crate) use ifunc;
