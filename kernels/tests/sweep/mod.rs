//! Shared test inputs: deterministic pseudo-random bytes and the length/offset sweep.
#![allow(dead_code)]

/// Deterministic pseudo-random bytes (xorshift64*).
pub(crate) fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// Every length 0..=300 with every input start offset 0..64; the output offset varies with
/// both so that all 64×64 alignment pairs occur across the sweep. Calls
/// `f(len, in_off, out_off)`.
pub(crate) fn sweep(mut f: impl FnMut(usize, usize, usize)) {
    for len in 0..=300 {
        for in_off in 0..64 {
            let out_off = (in_off * 37 + len * 11) % 64;
            f(len, in_off, out_off);
        }
    }
}
