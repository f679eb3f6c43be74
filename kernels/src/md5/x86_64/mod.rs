//! x86-64 MD5 lanes: AVX2 (8 messages at once) and AVX-512 F (16).

pub mod avx2;
pub mod avx512;
