//! aarch64 implementations.
pub mod neon;
