//! Cache hints for data the caller reads soon.
//!
//! [`prefetch`] asks for every 64-byte line of a slice and returns at once (x86-64's
//! `prefetcht0`; elsewhere the lines are read, one byte each, which waits for them): a decoder
//! issues it for the next block of records while it works on the current one, so the memory's
//! latency overlaps that work.
//!
//! ```
//! let records = vec![7u8; 1 << 20];
//! rawarrow_kernels::cache::prefetch(&records[3..]);
//! rawarrow_kernels::cache::prefetch(&[]);
//! assert!(records.iter().all(|&b| b == 7));
//! ```

/// Bytes between the lines [`prefetch`] asks for.
pub const LINE: usize = 64;

/// Asks for every [`LINE`] of `bytes` to be brought into the caches.
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for i in (0..bytes.len()).step_by(LINE) {
        let line = bytes[i..].as_ptr().cast();
        // SAFETY: a prefetch never faults and changes nothing the program can see (the address
        // is inside `bytes` anyway).
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    std::hint::black_box(bytes.iter().step_by(LINE).fold(0u8, |a, &b| a ^ b));
}
