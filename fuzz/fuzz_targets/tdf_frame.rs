//! timsTOF frame blobs: arbitrary bytes as `analysis.tdf_bin` with a `Frames` row taken from the
//! first 8 input bytes (NumScans, NumPeaks: small, so real decoding paths are reached). Decoding
//! must never panic; what decodes must equal a naive reading of the same blob (zstd's one-shot
//! bulk decoder, byte planes and running sums written out plainly).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawarrow::tdf::fuzzing::decode_frame;

fn naive(blob: &[u8], scans: u32, peaks: u64) -> Option<(Vec<u32>, Vec<u32>)> {
    let size = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    // One-shot, like the instrument's readers: a streaming decoder refuses frames whose window
    // exceeds its default limit (2^27) even when their content is tiny.
    let want = 4 * (scans as usize + 2 * peaks as usize);
    let raw = zstd::bulk::decompress(blob.get(8..size)?, want).ok()?;
    let n = raw.len() / 4;
    let word = |i: usize| u32::from_le_bytes([raw[i], raw[n + i], raw[2 * n + i], raw[3 * n + i]]);
    let mut counts: Vec<u64> = (1..scans as usize)
        .map(|k| u64::from(word(k) / 2))
        .collect();
    counts.push(peaks - counts.iter().sum::<u64>());
    let (mut tof, mut int, mut p) = (Vec::new(), Vec::new(), 0usize);
    for c in counts {
        let mut sum = 0u32;
        for _ in 0..c {
            sum = sum.wrapping_add(word(scans as usize + 2 * p));
            tof.push(sum.wrapping_sub(1));
            int.push(word(scans as usize + 2 * p + 1));
            p += 1;
        }
    }
    Some((tof, int))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let scans = u32::from(u16::from_le_bytes([data[0], data[1]]) % 2048);
    let peaks = u64::from(u16::from_le_bytes([data[2], data[3]]));
    let tims_id = u64::from(data[4] % 16);
    let bin = &data[8..];
    let (mut tof, mut int) = (vec![0u32; peaks as usize], vec![0u32; peaks as usize]);
    if decode_frame(bin, scans, peaks, tims_id, &mut tof, &mut int) && peaks > 0 {
        let blob = &bin[tims_id as usize..];
        let (t, i) = naive(blob, scans, peaks).expect("the naive reader reads what we read");
        assert_eq!((t, i), (tof, int));
    }
});
