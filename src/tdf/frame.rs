//! One frame blob of `analysis.tdf_bin` (TimsCompressionType 2) → per-peak TOF and intensity.
//!
//! Layout: u32 total size (header included), u32 scan count, then one zstd frame holding
//! `NumScans + 2·NumPeaks` u32 words stored as four byte planes. Word 0 is the scan count, words
//! 1..NumScans−1 twice the peaks of scans 0..NumScans−2 (the last scan has the rest), then
//! (TOF delta, intensity) pairs; a TOF index is the running sum of the deltas within its scan − 1.
//! Every size is checked against the `Frames` row before anything is allocated or written.

use rawarrow_kernels::{delta, unshuffle};

use super::meta::FrameRow;

/// The bytes one frame blob is decoded from: `bytes[0]` is at `base` in `analysis.tdf_bin`,
/// which is `len` bytes long. The blob at a frame's `TimsId` lies inside `bytes` unless the
/// file is too short for it (the decoder reports that).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) base: u64,
    pub(crate) len: u64,
}

impl<'a> Window<'a> {
    /// All of a file's bytes.
    pub(crate) fn whole(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            base: 0,
            len: bytes.len() as u64,
        }
    }
}

/// Reusable per-worker decoding state (zstd context and buffers).
pub(crate) struct FrameDecoder {
    zstd: zstd::bulk::Decompressor<'static>,
    raw: Vec<u8>,
    deltas: Vec<u32>,
    /// Peaks per scan of the last decoded frame.
    pub(crate) scan_peaks: Vec<u32>,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder").finish_non_exhaustive()
    }
}

/// Most peaks a frame may declare (4 GiB of decompressed words): an unchecked `NumPeaks` must
/// not size an allocation.
pub(crate) const MAX_PEAKS: u64 = 1 << 29;

/// The most bytes the blob of `frame` can take: its header and the largest zstd frame of its
/// `NumScans + 2·NumPeaks` words (a larger size is corrupt, and not fetched).
pub(crate) fn most_blob_bytes(frame: &FrameRow) -> u64 {
    let words = u64::from(frame.num_scans) + 2 * frame.num_peaks.min(MAX_PEAKS);
    let bytes = usize::try_from(words * 4).unwrap_or(usize::MAX);
    8 + zstd::zstd_safe::compress_bound(bytes) as u64
}

impl FrameDecoder {
    /// A decoder with empty buffers.
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(Self {
            zstd: zstd::bulk::Decompressor::new()?,
            raw: Vec::new(),
            deltas: Vec::new(),
            scan_peaks: Vec::new(),
        })
    }

    /// Decodes `frame` from `bin` (the whole `analysis.tdf_bin`, or the bytes fetched around
    /// the frame's blob) into `tof` and `intensity` (each exactly `NumPeaks` long) and returns
    /// the blob's length in bytes. Errors are `(byte offset, message)`.
    pub(crate) fn decode(
        &mut self,
        bin: Window<'_>,
        frame: &FrameRow,
        tof: &mut [u32],
        intensity: &mut [u32],
    ) -> Result<usize, (u64, String)> {
        let at = frame.tims_id;
        let err = |off: u64, m: String| Err((off, m));
        let peaks = frame.num_peaks;
        let scans = frame.num_scans;
        if peaks > MAX_PEAKS {
            return err(at, format!("NumPeaks {peaks} is implausible"));
        }
        debug_assert_eq!(tof.len() as u64, peaks);
        if at.checked_add(8).is_none_or(|e| e > bin.len) {
            return err(
                at,
                format!(
                    "TimsId {at} is past the end of analysis.tdf_bin ({} bytes)",
                    bin.len
                ),
            );
        }
        // The blob's bytes from its start (to the end of the window).
        let Some(blob) = at
            .checked_sub(bin.base)
            .and_then(|off| usize::try_from(off).ok())
            .and_then(|off| bin.bytes.get(off..))
            .filter(|b| b.len() >= 8)
        else {
            return err(at, "the blob's bytes were not fetched".into());
        };
        let size = u32::from_le_bytes(blob[..4].try_into().expect("4 bytes")) as usize;
        let header_scans = u32::from_le_bytes(blob[4..8].try_into().expect("4 bytes"));
        if size < 8 || at + size as u64 > bin.len {
            return err(
                at,
                format!("blob size {size} runs past the end of analysis.tdf_bin"),
            );
        }
        if size as u64 > most_blob_bytes(frame) {
            return err(
                at,
                format!(
                    "blob size {size} is more than a zstd frame of NumScans {scans} and \
                     NumPeaks {peaks} can take"
                ),
            );
        }
        if size > blob.len() {
            return err(at, "the blob's bytes were not all fetched".into());
        }
        self.scan_peaks.clear();
        if peaks == 0 && size == 8 {
            self.scan_peaks.resize(scans as usize, 0);
            return Ok(size);
        }
        if header_scans != scans {
            return err(
                at + 4,
                format!("blob has {header_scans} scans, Frames.NumScans says {scans}"),
            );
        }
        if scans == 0 {
            return err(at, "a frame with peaks but no scans".into());
        }
        let n_words = u64::from(scans) + 2 * peaks;
        let expected = (n_words * 4) as usize;
        let payload = &blob[8..size];
        match zstd::zstd_safe::get_frame_content_size(payload) {
            Ok(Some(n)) if n != expected as u64 => {
                return err(
                    at + 8,
                    format!(
                        "zstd frame holds {n} bytes; NumScans {scans} and NumPeaks {peaks} need {expected}"
                    ),
                )
            }
            Err(_) => return err(at + 8, "not a zstd frame".into()),
            _ => {}
        }
        self.raw.clear();
        self.raw.reserve(expected);
        let got = self
            .zstd
            .decompress_to_buffer(payload, &mut self.raw)
            .map_err(|e| (at + 8, format!("zstd: {e}")))?;
        if got != expected {
            return err(
                at + 8,
                format!("blob decompresses to {got} bytes; NumScans {scans} and NumPeaks {peaks} need {expected}"),
            );
        }
        // The scan words are read straight from the planes; the pairs are unshuffled and split
        // in one pass, intensities straight into their column.
        let n_words = n_words as usize;
        let raw = &self.raw[..expected];
        let word = |i: usize| {
            u32::from_le_bytes([
                raw[i],
                raw[i + n_words],
                raw[i + 2 * n_words],
                raw[i + 3 * n_words],
            ])
        };
        if word(0) != scans {
            return err(
                at + 8,
                format!(
                    "blob word 0 is {}, expected the scan count {scans}",
                    word(0)
                ),
            );
        }
        let mut total: u64 = 0;
        for i in 1..scans as usize {
            let n = word(i) / 2;
            total += u64::from(n);
            self.scan_peaks.push(n);
        }
        if total > peaks {
            return err(
                at + 8,
                format!("scan peak counts add up to {total}, more than NumPeaks {peaks}"),
            );
        }
        self.scan_peaks.push((peaks - total) as u32);
        let n = intensity.len();
        if self.deltas.len() < n {
            self.deltas.resize(n, 0);
        }
        let deltas = &mut self.deltas[..n];
        unshuffle::pairs(raw, scans as usize, deltas, intensity);
        delta::decode(deltas, &self.scan_peaks, tof);
        Ok(size)
    }
}
