#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub(crate) mod arrow;
pub mod bam;
pub mod bgzf;
#[cfg(feature = "cli")]
pub mod cli;
pub mod convert;
#[allow(unsafe_code)] // memory mapping and madvise only; see the module docs
pub mod io;
pub mod midi;
pub mod options;
pub(crate) mod runtime;
pub mod sink;
pub(crate) mod stats;
pub mod stream;
pub mod tdf;
