//! The chunk reader over a file and over a stream read in reads of any length.
use super::*;
use crate::bgzf::VirtualOffsets;

/// A reader that hands out its bytes in reads of pseudo-random lengths, from 1 byte to
/// more than a piece (as pipes, sockets and file objects do).
struct Trickle {
    data: Vec<u8>,
    at: usize,
    seed: u64,
}

impl std::io::Read for Trickle {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let most = match self.seed >> 61 {
            0 => 1,
            1 => 100,
            2 => 70_000,
            3 => 400_000,
            _ => (self.seed >> 40) as usize % 200_000 + 1,
        };
        let n = most.min(out.len()).min(self.data.len() - self.at);
        out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn a_stream_read_in_reads_of_any_length_inflates_to_the_file() {
    // Blocks of every size up to full ones, so that reads end anywhere in a block.
    let mut data = Vec::new();
    let mut x = 7u32;
    while data.len() < 3_000_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        data.push(b"ACGT"[(x >> 29) as usize & 3]);
        if x.is_multiple_of(50_000) {
            data.extend(std::iter::repeat_n(b'N', (x >> 8) as usize % 90_000));
        }
    }
    let file = super::super::compress_for_tests(&data);
    for seed in 0..4u64 {
        for threads in [1, 2] {
            let reader = Trickle {
                data: file.clone(),
                at: 0,
                seed,
            };
            let input = Input::stream("trickle", Box::new(reader));
            let opts = Options::default().threads(threads).chunk_bytes(200_000);
            let mut got = Vec::new();
            for chunk in ChunkReader::new(input, opts) {
                got.extend_from_slice(chunk.expect("inflates").data());
            }
            assert!(
                got == data,
                "seed {seed}, {threads} threads: {} bytes",
                got.len()
            );
        }
    }
}

#[test]
fn the_cursor_gives_every_virtual_offset_the_lookup_gives() {
    // Blocks of unequal sizes, an empty one among them.
    let mut data = Vec::new();
    for (i, n) in [70_000usize, 0, 1, 65_280, 3_000].iter().enumerate() {
        data.extend(std::iter::repeat_n(b'a' + i as u8, *n));
    }
    let file = super::super::compress_for_tests(&data);
    let input = Input::from_bytes("t.gz", file);
    let opts = Options::default().threads(1).chunk_bytes(1 << 30);
    let chunk = ChunkReader::new(input, opts)
        .next()
        .expect("a chunk")
        .expect("inflates");
    assert!(chunk.blocks().len() > 2, "several blocks");
    let mut cursor = VirtualOffsets::new(&chunk);
    for pos in (0..chunk.data().len() + 3)
        .step_by(7)
        .chain([chunk.data().len() + 9])
    {
        assert_eq!(cursor.at(pos), chunk.virtual_offset(pos), "pos {pos}");
    }
}
