//! A rANS Nx16 encoder (order 0 and 1, 4 or 32 states, tables as htscodecs writes them), for
//! the decoders' round-trip tests and the benchmarks: written here from the format's
//! description (CRAM codecs 3.1, section 3), not from htscodecs.

const LOWER: u32 = 1 << 15;

/// Encodes `data` as a rANS Nx16 stream: `order` 0 or 1, `x32` for 32 states (else 4), and for
/// order 1 the table total's bits (`shift`, 10 or 12; order 0 always uses 12).
pub(crate) fn encode(data: &[u8], order: u8, x32: bool, shift: u32) -> Vec<u8> {
    let states = if x32 { 32 } else { 4 };
    let shift = if order == 0 { 12 } else { shift };
    let total = 1u32 << shift;
    let mut out = vec![order & 1 | if x32 { 0x04 } else { 0 }];
    u7(&mut out, data.len() as u32);
    // Which symbols occur, as contexts too (order 1 starts every state in context 0).
    let mut present = [false; 256];
    for &b in data {
        present[usize::from(b)] = true;
    }
    if order == 1 || data.is_empty() {
        present[0] = true;
    }
    let list: Vec<u8> = (0..=255u8).filter(|&s| present[usize::from(s)]).collect();
    // The decoding sequence: (state, position, context) in the order the decoder visits them.
    let mut seq = Vec::with_capacity(data.len());
    if order == 0 {
        for i in 0..data.len() {
            seq.push((i % states, i, 0u8));
        }
    } else {
        let q = data.len() / states;
        for i in 0..q {
            for z in 0..states {
                let p = z * q + i;
                seq.push((z, p, if i == 0 { 0 } else { data[p - 1] }));
            }
        }
        for p in states * q..data.len() {
            seq.push((states - 1, p, if p == 0 { 0 } else { data[p - 1] }));
        }
    }
    // Frequencies per context (one row for order 0), normalised to the total.
    let rows = if order == 0 { 1 } else { 256 };
    let mut counts = vec![[0u32; 256]; rows];
    for &(_, p, c) in &seq {
        counts[usize::from(c) % rows][usize::from(data[p])] += 1;
    }
    let freqs: Vec<[u32; 256]> = counts.iter().map(|c| normalise(c, total)).collect();
    let cums: Vec<[u32; 256]> = freqs
        .iter()
        .map(|f| {
            let mut c = [0u32; 256];
            let mut run = 0;
            for s in 0..256 {
                c[s] = run;
                run += f[s];
            }
            c
        })
        .collect();
    // Tables.
    if order == 0 {
        alphabet(&mut out, &list);
        for &s in &list {
            u7(&mut out, freqs[0][usize::from(s)]);
        }
    } else {
        out.push((shift as u8) << 4);
        alphabet(&mut out, &list);
        for &c in &list {
            let row = &freqs[usize::from(c)];
            let mut k = 0;
            while k < list.len() {
                let f = row[usize::from(list[k])];
                u7(&mut out, f);
                k += 1;
                if f == 0 {
                    // A zero is followed by the count of further zeros (at most 255).
                    let mut zeros = 0usize;
                    while k < list.len() && row[usize::from(list[k])] == 0 && zeros < 255 {
                        zeros += 1;
                        k += 1;
                    }
                    out.push(zeros as u8);
                }
            }
        }
    }
    // States and words, encoded backwards.
    let mut x = vec![LOWER; states];
    let mut words: Vec<u16> = Vec::new();
    for &(z, p, c) in seq.iter().rev() {
        let s = usize::from(data[p]);
        let row = usize::from(c) % rows;
        let (f, cum) = (freqs[row][s], cums[row][s]);
        let max = ((LOWER >> shift) << 16) * f;
        while x[z] >= max {
            words.push(x[z] as u16);
            x[z] >>= 16;
        }
        x[z] = ((x[z] / f) << shift) + x[z] % f + cum;
    }
    for &v in &x {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for w in words.iter().rev() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// Counts scaled to sum to `total`, every counted symbol at least 1 (an empty row stays empty).
fn normalise(counts: &[u32; 256], total: u32) -> [u32; 256] {
    let sum: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let mut f = [0u32; 256];
    if sum == 0 {
        return f;
    }
    for s in 0..256 {
        if counts[s] > 0 {
            f[s] = ((u64::from(counts[s]) * u64::from(total) / sum) as u32).max(1);
        }
    }
    // Move the difference onto (or off) the largest frequencies.
    loop {
        let got: u32 = f.iter().sum();
        if got == total {
            return f;
        }
        let big = (0..256).max_by_key(|&s| f[s]).expect("a symbol");
        if got < total {
            f[big] += total - got;
        } else {
            let cut = (got - total).min(f[big] - 1);
            f[big] -= cut;
        }
    }
}

/// The symbol list: ascending, a run of consecutive symbols written as its first two and the
/// count of the rest, 0 at the end.
fn alphabet(out: &mut Vec<u8>, list: &[u8]) {
    let mut k = 0;
    while k < list.len() {
        out.push(list[k]);
        if k + 1 < list.len() && u16::from(list[k]) + 1 == u16::from(list[k + 1]) {
            let mut end = k + 1;
            while end + 1 < list.len() && u16::from(list[end]) + 1 == u16::from(list[end + 1]) {
                end += 1;
            }
            let rest = (end - k - 1).min(255);
            out.push(list[k + 1]);
            out.push(rest as u8);
            k += rest + 2;
        } else {
            k += 1;
        }
    }
    out.push(0);
}

fn u7(out: &mut Vec<u8>, v: u32) {
    let mut groups = vec![(v & 0x7f) as u8];
    let mut v = v >> 7;
    while v > 0 {
        groups.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.extend(groups.iter().rev());
}
