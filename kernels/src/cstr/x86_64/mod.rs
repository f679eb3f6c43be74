//! x86-64 implementations.
pub mod avx2;
pub mod avx512;
