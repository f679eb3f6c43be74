//! CIGAR text and spans against the naive `format!` reference.

mod sweep;

use proptest::prelude::*;
use rawarrow_kernels::cigar::{self, MAX_TEXT_PER_OP};

fn raw(ops: &[u32]) -> Vec<u8> {
    ops.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn check(raw: &[u8]) {
    let (text, r, q) = cigar::naive(raw);
    let mut out = vec![0u8; raw.len() / 4 * MAX_TEXT_PER_OP];
    let s = cigar::to_text(raw, &mut out);
    assert_eq!(
        std::str::from_utf8(&out[..s.text_len]).expect("ascii"),
        text
    );
    assert_eq!((s.ref_len, s.query_len), (r, q));
    let spans = cigar::spans(raw);
    assert_eq!((spans.ref_len, spans.query_len), (r, q));
}

#[test]
fn every_length_boundary_and_op() {
    let mut lens: Vec<u32> = vec![0, 1, (1 << 28) - 1];
    for p in 1..9 {
        let t = 10u32.pow(p);
        lens.extend([t - 1, t, t + 1]);
    }
    for &len in &lens {
        for op in 0..16u32 {
            check(&raw(&[len << 4 | op]));
            check(&raw(&[5 << 4, len << 4 | op, 7 << 4 | 1]));
        }
    }
}

/// Op codes 9–15 are written as htslib writes them (`B`, then `?`) and consume nothing.
#[test]
fn undefined_ops_as_htslib_prints_them() {
    let r = raw(&[10 << 4, 3 << 4 | 9, 4 << 4 | 12, 2 << 4 | 15]);
    let mut out = vec![0u8; 40];
    let s = cigar::to_text(&r, &mut out);
    assert_eq!(&out[..s.text_len], b"10M3B4?2?");
    assert_eq!((s.ref_len, s.query_len), (10, 10));
}

#[test]
fn many_ops_beyond_u16() {
    let ops: Vec<u32> = (0..70_000u32)
        .map(|i| (i % 1000 + 1) << 4 | (i % 9))
        .collect();
    check(&raw(&ops));
}

#[test]
fn random_sweep() {
    sweep::sweep(|n, in_off, _| {
        if in_off % 8 == 0 {
            let mut b = sweep::bytes(n * 4, (n * 64 + in_off) as u64);
            for op in b.chunks_exact_mut(4) {
                op[0] = (op[0] & 0xf0) | (op[0] % 9); // mostly valid ops
                op[3] &= 0x0f; // lengths < 2^28
            }
            check(&b);
        }
    });
}

proptest! {
    #[test]
    fn arbitrary(ops in proptest::collection::vec(any::<u32>(), 0..100)) {
        let ops: Vec<u32> = ops.into_iter().map(|v| v & 0x0fff_ffff | (v & 0xf)).collect();
        check(&raw(&ops));
    }
}
