//! Reference MD5 checks in batches. Each slice states the MD5 of the reference bases it covers;
//! hashing them is a chain of dependent steps (one message, one core at about 600 MB/s), and a
//! file of sparse reads hashes most of its reference (more CPU than decoding its records).
//! Slices are independent messages, so the first worker to need a slice's digest hashes the
//! spans of the slices after it as well (the containers its job's range holds, on the same
//! reference sequence, up to [`BATCH`] slices), one per SIMD lane
//! ([`rawarrow_kernels::md5::digest_many`]); the workers that decode those containers take
//! their digests from here. A worker whose slice is in a batch another is hashing hashes the
//! next batch meanwhile, and waits only when no slice is left to take.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Condvar, Mutex, MutexGuard};

use rawarrow_kernels::md5;

use super::codec::Codecs;
use super::compression::CompressionHeader;
use super::container::{block, container_header, content, slice_header, SliceHeader};

/// The most slices one batch hashes (AVX-512's lanes).
const BATCH: usize = 16;

/// The most containers one walk looks at (those other batches took included).
const WALK: usize = 4 * BATCH;

/// Digests hashed ahead, shared by a file's workers.
#[derive(Debug, Default)]
pub(crate) struct Batches {
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Digests not yet taken, by container offset and slice index.
    done: HashMap<(u64, usize), [u8; 16]>,
    /// Containers a batch took (never forgotten: a container hashed ahead is not hashed again).
    claimed: HashSet<u64>,
    /// Containers whose batch is being hashed.
    pending: HashSet<u64>,
}

/// Where a slice sits: its container's bytes (and those of the containers after it, up to
/// `limit`), the container's offset and the slice's index in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ahead<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) limit: usize,
    pub(crate) offset: u64,
    pub(crate) slice: usize,
    pub(crate) major: u8,
}

/// The bytes of `whole` (a reference sequence) that a slice's MD5 covers: its span from its
/// start, clipped to the sequence (as htslib loads it).
pub(crate) fn span_range(whole: usize, sh: &SliceHeader) -> Range<usize> {
    let lo = (sh.start - 1).max(0);
    let from = (lo as usize).min(whole);
    let to = ((lo + sh.span).max(0) as usize).clamp(from, whole);
    from..from + (to - from).min(sh.span.max(0) as usize)
}

/// Clears a batch's containers from `pending` (also if hashing panicked) and wakes waiters.
struct Claim<'a> {
    batches: &'a Batches,
    containers: Vec<u64>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut st = self.batches.lock();
        for c in &self.containers {
            st.pending.remove(c);
        }
        drop(st);
        self.batches.ready.notify_all();
    }
}

impl Batches {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the maps inconsistent (each update is one call).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The MD5 of `whole[span]`, the reference span of slice `at.slice` of the container at
    /// `at.offset` on sequence `reference`: taken from a batch, or hashed here in a batch with
    /// the slices after it. While another worker hashes the batch that holds it, this one
    /// hashes the next slices no batch has taken (work some worker needs later), and waits
    /// only when there are none.
    pub(crate) fn digest(
        &self,
        at: Ahead<'_>,
        codecs: &mut Codecs,
        reference: i32,
        whole: &[u8],
        span: Range<usize>,
    ) -> [u8; 16] {
        let key = (at.offset, at.slice);
        let mut st = self.lock();
        loop {
            if let Some(d) = st.done.remove(&key) {
                return d;
            }
            let claimed = st.claimed.contains(&at.offset);
            if claimed && !st.pending.contains(&at.offset) {
                // Its batch left this slice out (or it is read a second time): hash it here.
                drop(st);
                return md5::digest(&whole[span]);
            }
            let walked = walk(at, codecs, reference, whole.len(), |o| {
                st.claimed.contains(&o)
            });
            if claimed && walked.is_empty() {
                st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let mut claim = Claim {
                batches: self,
                containers: Vec::new(),
            };
            let mut spans: Vec<(u64, usize, Range<usize>)> = Vec::new();
            for (offset, slices) in walked {
                st.claimed.insert(offset);
                st.pending.insert(offset);
                claim.containers.push(offset);
                spans.extend(slices.into_iter().map(|(s, r)| (offset, s, r)));
            }
            if !claimed && !spans.iter().any(|&(o, s, _)| (o, s) == key) {
                // Its own container could not be walked: its own span, alone.
                if st.claimed.insert(at.offset) {
                    st.pending.insert(at.offset);
                    claim.containers.push(at.offset);
                }
                spans.push((at.offset, at.slice, span.clone()));
            }
            drop(st);
            let msgs: Vec<&[u8]> = spans.iter().map(|(_, _, r)| &whole[r.clone()]).collect();
            let mut digests = vec![[0u8; 16]; msgs.len()];
            md5::digest_many(&msgs, &mut digests);
            st = self.lock();
            for ((offset, slice, _), d) in spans.into_iter().zip(digests) {
                st.done.insert((offset, slice), d);
            }
            drop(st);
            drop(claim);
            st = self.lock();
        }
    }
}

/// A slice's index in its container and its span in the reference sequence.
type SliceSpan = (usize, Range<usize>);

/// The containers from `at`'s up to `at.limit` that `taken` does not rule out, while they are
/// on `reference` and need it, and hold fewer than [`BATCH`] slices to hash before them: each
/// with the spans of its slices that state an MD5 of the file's reference. Stops at the first
/// container it cannot read (its worker reports why), and after [`WALK`] containers.
fn walk(
    at: Ahead<'_>,
    codecs: &mut Codecs,
    reference: i32,
    whole: usize,
    taken: impl Fn(u64) -> bool,
) -> Vec<(u64, Vec<SliceSpan>)> {
    let mut out = Vec::new();
    let mut data = Vec::new();
    let mut pos = 0usize;
    let mut n = 0;
    let mut seen = 0;
    while pos < at.limit.min(at.bytes.len()) && n < BATCH && seen < WALK {
        seen += 1;
        let Ok(h) = container_header(&at.bytes[pos..], at.major) else {
            break;
        };
        let Some(body) = at.bytes.get(pos + h.header_len..pos + h.total_len()) else {
            break;
        };
        if h.reference != reference && pos > 0 {
            break;
        }
        let offset = at.offset + pos as u64;
        if taken(offset) {
            pos += h.total_len();
            continue;
        }
        let mut src = body;
        let Ok(raw) = block(&mut src, at.major) else {
            break;
        };
        if raw.content_type != content::COMPRESSION_HEADER
            || codecs.decompress(&raw, &mut data).is_err()
        {
            break;
        }
        let Ok(comp) = CompressionHeader::parse(&data) else {
            break;
        };
        if !comp.reference_required {
            break;
        }
        let mut slices = Vec::new();
        for (i, &land) in h.landmarks.iter().enumerate() {
            let end = h.landmarks.get(i + 1).copied().unwrap_or(h.length);
            let Some(mut s) = body.get(land..end.max(land)) else {
                break;
            };
            let Ok(head) = block(&mut s, at.major) else {
                break;
            };
            if head.content_type != content::SLICE_HEADER
                || codecs.decompress(&head, &mut data).is_err()
            {
                break;
            }
            let Ok(sh) = slice_header(&data, at.major) else {
                break;
            };
            if sh.reference == reference && sh.embedded < 0 && sh.md5 != [0; 16] {
                slices.push((i, span_range(whole, &sh)));
                n += 1;
            }
        }
        out.push((offset, slices));
        pos += h.total_len();
    }
    out
}
