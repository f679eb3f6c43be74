#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub(crate) mod arrow;
pub mod bam;
pub mod bgzf;
pub mod convert;
pub(crate) mod cram;
mod error;
mod format;
#[allow(unsafe_code)] // memory mapping and madvise only; see the module docs
pub mod io;
pub mod midi;
pub mod options;
pub(crate) mod runtime;
pub mod scan;
pub mod sink;
pub(crate) mod stats;
pub mod stream;
pub mod tdf;

pub use error::{Error, ErrorKind, Location};
