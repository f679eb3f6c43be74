//! CRAM 2.1, 3.0 and 3.1: containers decoded on the BGZF engine's workers into BAM records,
//! which the BAM stages downstream (framing, Arrow batches, SAM text, filters, regions of
//! records) read as they read a BAM file's. A CRAM input is recognised by its magic wherever
//! a BAM is read.
//!
//! The calling thread walks container headers ([`Containers`]): cheap, a few dozen bytes per
//! container of thousands of records. A worker decodes a container whole ([`transcode`]):
//! its compression header, then each slice's blocks (raw, gzip, bzip2, lzma, rANS 4x8, rANS
//! Nx16), records, bases from the reference and read features, MD/NM where htslib
//! regenerates them, mates within the slice; the records come out as BAM records, as
//! `samtools view` would print them.
#![forbid(unsafe_code)]

mod codec;
mod compression;
mod container;
pub(crate) mod crai;
mod decoded;
mod emit;
mod encoding;
mod error;
mod features;
mod header;
mod num;
mod record;
mod ref_path;
mod reference;
mod series;
mod slice;
mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use container::{find_container, find_container_in};
use error::Cause;
pub(crate) use error::Error;
use header::FileHeader;

/// Whether `head` (a file's first bytes) is CRAM.
pub(crate) fn is_cram(head: &[u8]) -> bool {
    head.starts_with(b"CRAM")
}

/// For a file's first bytes as they arrive (a stream's, a remote object's): where its data
/// containers start, once `bytes` hold the file definition and header container; `None` while
/// more are needed (`ended`: nothing follows them).
pub(crate) fn data_start(bytes: &[u8], ended: bool) -> Result<Option<usize>, Error> {
    match header::read(bytes) {
        Ok(h) => Ok(Some(h.data_start as usize)),
        // A short read fails somewhere in the header; more bytes decide (up to a header of
        // 256 MiB: millions of @SQ lines).
        Err(_) if !ended && bytes.len() < 256 << 20 => Ok(None),
        Err(e) => Err(e),
    }
}

/// What every container of a file shares: its header, read groups, the reference.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) header: FileHeader,
    /// `ID` of each `@RG` line, in order (the RG data series indexes them).
    pub(crate) read_groups: Vec<Vec<u8>>,
    /// The index of the last `@RG` when its ID is `UNKNOWN` (htslib then adds no RG tag), or -2.
    pub(crate) unknown_rg: i32,
    /// The input's file name: generated read names are `prefix:N`, as htslib makes them.
    pub(crate) prefix: String,
    /// The reference FASTA given, and its path.
    fasta: Option<(PathBuf, reference::Fasta)>,
    /// Where sequences the FASTA lacks are looked up by MD5 (`REF_CACHE`, `REF_PATH`), and
    /// each `@SQ` line's `M5` and `UR`.
    lookup: ref_path::Lookup,
    sq: HashMap<String, (Option<String>, Option<String>)>,
    /// Sequences read so far (the most recent two).
    cache: std::sync::Mutex<Vec<(String, Arc<Vec<u8>>)>>,
    /// Reference MD5s hashed ahead, in batches.
    md5: verify::Batches,
}

/// Each `@SQ` line's `M5` (lower-cased) and `UR`, by `SN`.
fn sq_lines(text: &[u8]) -> HashMap<String, (Option<String>, Option<String>)> {
    let mut out = HashMap::new();
    for line in text.split(|&b| b == b'\n') {
        let Some(rest) = line.strip_prefix(b"@SQ\t") else {
            continue;
        };
        let rest = String::from_utf8_lossy(rest.strip_suffix(b"\r").unwrap_or(rest));
        let field = |k: &str| {
            rest.split('\t')
                .find_map(|f| f.strip_prefix(k))
                .map(str::to_owned)
        };
        if let Some(name) = field("SN:") {
            out.insert(
                name,
                (field("M5:").map(|m| m.to_ascii_lowercase()), field("UR:")),
            );
        }
    }
    out
}

impl Context {
    /// Reads the file definition and SAM header of the mapped CRAM file `file`.
    pub(crate) fn open(file: &[u8], path: &Path, reference: Option<&Path>) -> Result<Self, Error> {
        let header = header::read(file)?;
        let mut read_groups = Vec::new();
        for line in header.text.split(|&b| b == b'\n') {
            if let Some(rest) = line.strip_prefix(b"@RG\t") {
                let id = rest
                    .split(|&b| b == b'\t')
                    .find_map(|f| f.strip_prefix(b"ID:"))
                    .unwrap_or_default();
                read_groups.push(id.strip_suffix(b"\r").unwrap_or(id).to_vec());
            }
        }
        let unknown_rg = match read_groups.last() {
            Some(id) if id == b"UNKNOWN" => read_groups.len() as i32 - 1,
            _ => -2,
        };
        let prefix = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let fasta = match reference {
            Some(p) => Some((
                p.to_path_buf(),
                reference::Fasta::open(p).map_err(|c| Error::new(header.data_start, c))?,
            )),
            None => None,
        };
        let sq = sq_lines(&header.text);
        Ok(Self {
            header,
            read_groups,
            unknown_rg,
            prefix,
            fasta,
            lookup: ref_path::Lookup::from_env(),
            sq,
            cache: Default::default(),
            md5: Default::default(),
        })
    }

    /// The BAM header bytes that stand for the CRAM header downstream.
    pub(crate) fn bam_header(&self) -> Vec<u8> {
        self.header.bam_bytes()
    }

    /// Sequence `name` of the reference, whole and upper-cased, for a slice whose MD5 is `md5`:
    /// from the FASTA given, else found by the `@SQ` line's MD5 or `UR` ([`ref_path`]); read
    /// once and shared by the workers (the two most recent are kept, as a sorted file moves
    /// from one sequence to the next).
    fn sequence(&self, name: &str, md5: &[u8; 16]) -> Result<Arc<Vec<u8>>, Cause> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, seq)) = cache.iter().find(|(n, _)| n == name) {
            return Ok(seq.clone());
        }
        let mut bases = Vec::new();
        match &self.fasta {
            Some((_, fasta)) if fasta.len(name).is_some() => {
                fasta.bases(name, 0, u64::MAX, &mut bases)?;
            }
            _ => self.look_up(name, md5, &mut bases)?,
        }
        let seq = Arc::new(bases);
        if cache.len() >= 2 {
            cache.remove(0);
        }
        cache.push((name.to_string(), seq.clone()));
        Ok(seq)
    }

    /// Sequence `name` found by MD5 or `UR`, as htslib finds it without a FASTA.
    fn look_up(&self, name: &str, md5: &[u8; 16], out: &mut Vec<u8>) -> Result<(), Cause> {
        let (m5, ur) = self.sq.get(name).cloned().unwrap_or_default();
        match self.lookup.find(m5.as_deref(), ur.as_deref()) {
            Ok(ref_path::Found::Bases(p)) => {
                let bytes = std::fs::read(&p).map_err(|e| {
                    Cause::NoReference(format!("the reference {} cannot be read: {e}", p.display()))
                })?;
                out.extend(bytes.iter().map(u8::to_ascii_uppercase));
                Ok(())
            }
            Ok(ref_path::Found::Fasta(p)) => {
                let fasta = reference::Fasta::open(&p)?;
                if fasta.len(name).is_none() {
                    return Err(Cause::NoReference(format!(
                        "the reference {} (the @SQ line's UR) has no sequence {name:?}",
                        p.display()
                    )));
                }
                fasta.bases(name, 0, u64::MAX, out)
            }
            Err(tried) => {
                let mut places = Vec::new();
                if let Some((path, _)) = &self.fasta {
                    places.push(format!(
                        "the reference {} (no sequence {name:?})",
                        path.display()
                    ));
                }
                places.extend(tried);
                // The whole sequence's MD5 (what the lookups use), else the slice's span's.
                let m5 = m5.map_or_else(
                    || {
                        format!(
                            "{} of the slice's span; the @SQ line has no M5",
                            slice::hex(md5)
                        )
                    },
                    |m| m.to_string(),
                );
                Err(Cause::NoReference(format!(
                    "the slice's bases are stored against reference {name:?} (MD5 {m5}), \
                     found nowhere: {}; give one with --reference FASTA, or set \
                     REF_PATH/REF_CACHE",
                    places.join("; ")
                )))
            }
        }
    }
}

/// A worker's decoding state, reused from container to container.
#[derive(Default)]
pub(crate) struct Worker {
    slices: slice::SliceBuffers,
}

/// Decodes the container that starts `bytes` (at byte `offset` of its file) into BAM records
/// appended to `out`. The containers that start in `bytes` before `limit` after it may have
/// their reference spans hashed with its own ([`verify`]).
pub(crate) fn transcode(
    ctx: &Context,
    bytes: &[u8],
    offset: u64,
    limit: usize,
    w: &mut Worker,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let major = ctx.header.major;
    let fail = |c: Cause| Error::new(offset, c);
    let h = container::container_header(bytes, major).map_err(fail)?;
    let body = bytes
        .get(h.header_len..h.total_len())
        .ok_or_else(|| fail(Cause::Truncated("container")))?;
    let mut src = body;
    let raw = container::block(&mut src, major).map_err(fail)?;
    if raw.content_type != container::content::COMPRESSION_HEADER {
        return Err(fail(Cause::Invalid(
            "container (its first block is not a compression header)",
        )));
    }
    let mut data = Vec::new();
    w.slices.codecs.decompress(&raw, &mut data).map_err(fail)?;
    let comp = compression::CompressionHeader::parse(&data).map_err(fail)?;
    // Landmarks are offsets of slices from the end of the container header.
    for (i, &at) in h.landmarks.iter().enumerate() {
        let end = h.landmarks.get(i + 1).copied().unwrap_or(h.length);
        let s = body.get(at..end.max(at)).ok_or_else(|| {
            fail(Cause::Invalid(
                "container landmark (a slice offset past its end)",
            ))
        })?;
        let ahead = verify::Ahead {
            bytes,
            limit,
            offset,
            slice: i,
            major,
        };
        slice::decode(ctx, &comp, s, ahead, &mut w.slices, out).map_err(|cause| Error {
            container: offset,
            slice: Some(i),
            cause: Box::new(cause),
        })?;
    }
    Ok(())
}

/// The calling thread's walk over a mapped file's containers.
#[derive(Debug)]
pub(crate) struct Containers {
    ctx: Arc<Context>,
    /// The next container's offset, and whether the BAM header was handed out.
    next: u64,
    header_sent: bool,
    eof_container: bool,
    done: bool,
}

/// What a chunk of a CRAM file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// The BAM header, already in the chunk.
    Ready,
    /// The container at this offset of the mapped file, to decode, and where its job's range
    /// ends (containers that start before it may be read ahead: [`verify`]).
    Container(u64, u64),
    /// The container at this offset of a stream or remote object, its bytes in the chunk.
    Held(u64),
}

/// What a walk over bytes as they arrive ([`Containers::next_held`]) does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// At least this many bytes from the walk's position are needed.
    More(usize),
    /// A container of this many bytes with records: taken into the chunk, to decode.
    Take(usize),
    /// A container of this many bytes without records (the end-of-file container): passed over.
    Skip(usize),
    /// The input ended where a container could start.
    End,
}

/// The largest container a stream is waited for (its length field could say anything).
const MAX_HELD: usize = 1 << 30;

/// Bytes of a container header waited for at most (the landmarks of a few thousand slices).
const MAX_HEADER: usize = 1 << 20;

impl Containers {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        let next = ctx.header.data_start;
        Self {
            ctx,
            next,
            header_sent: false,
            eof_container: false,
            done: false,
        }
    }

    /// A walk that yields nothing (the file's header could not be read).
    pub(crate) fn failed() -> Self {
        let ctx = Context {
            header: FileHeader::default(),
            read_groups: Vec::new(),
            unknown_rg: -2,
            prefix: String::new(),
            fasta: None,
            lookup: Default::default(),
            sq: HashMap::new(),
            cache: Default::default(),
            md5: Default::default(),
        };
        Self {
            ctx: Arc::new(ctx),
            next: 0,
            header_sent: true,
            eof_container: false,
            done: true,
        }
    }

    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Where the walk is (for progress).
    pub(crate) fn position(&self) -> u64 {
        self.next
    }

    /// Whether the file ended with the end-of-file container (`None` before the end).
    pub(crate) fn eof_marker(&self) -> Option<bool> {
        self.done.then_some(self.eof_container)
    }

    /// Goes on from the container at `offset` (a range of containers, or a split's first):
    /// with `header` the BAM header is still handed out first.
    pub(crate) fn seek(&mut self, offset: u64, header: bool) {
        self.next = offset.max(self.ctx.header.data_start);
        self.header_sent = !header;
        self.done = false;
    }

    /// The file's major version (2 or 3; only 3.x container headers carry a CRC32).
    pub(crate) fn major(&self) -> u8 {
        self.ctx.header.major
    }

    /// The BAM header into `data`, the first time only.
    pub(crate) fn header_job(&mut self, data: &mut Vec<u8>) -> Option<Job> {
        if self.header_sent {
            return None;
        }
        self.header_sent = true;
        data.clear();
        data.extend_from_slice(&self.ctx.bam_header());
        Some(Job::Ready)
    }

    /// For bytes as they arrive (a stream's, a remote object's): what to do with `bytes`, the
    /// input's from offset `at` (`ended`: nothing follows them).
    pub(crate) fn next_held(&mut self, at: u64, bytes: &[u8], ended: bool) -> Result<Held, Error> {
        self.next = at;
        // Fewer bytes than a container's length field: the end, without the end-of-file
        // container (htslib reads such a file to there, warning).
        if bytes.len() < 4 && ended {
            self.done = true;
            return Ok(Held::End);
        }
        let h = match container::container_header(bytes, self.ctx.header.major) {
            Ok(h) => h,
            Err(_) if !ended && bytes.len() < MAX_HEADER => {
                return Ok(Held::More((bytes.len() * 2).max(4096)))
            }
            Err(c) => {
                self.done = true;
                return Err(Error::new(at, c));
            }
        };
        let total = h.total_len();
        if total > MAX_HELD {
            self.done = true;
            return Err(Error::new(
                at,
                Cause::TooLarge("container length", total as u64),
            ));
        }
        if bytes.len() < total {
            if ended {
                self.done = true;
                return Err(Error::new(at, Cause::Truncated("container")));
            }
            return Ok(Held::More(total));
        }
        self.next = at + total as u64;
        if h.is_eof() {
            self.eof_container = true;
            return Ok(Held::Skip(total));
        }
        if h.records == 0 && h.landmarks.is_empty() {
            return Ok(Held::Skip(total));
        }
        self.eof_container = false;
        Ok(Held::Take(total))
    }

    /// The next chunk's job: the BAM header first (into `data`), then each container with
    /// records that starts before `end`; `None` at the end of the file or there.
    pub(crate) fn next_job(
        &mut self,
        file: &[u8],
        data: &mut Vec<u8>,
        end: u64,
    ) -> Option<Result<Job, Error>> {
        if let Some(job) = self.header_job(data) {
            return Some(Ok(job));
        }
        let major = self.ctx.header.major;
        loop {
            // Fewer bytes than a container's length field: the end (as `next_held`).
            if self.done || self.next + 4 > file.len() as u64 {
                self.done = true;
                return None;
            }
            if self.next >= end {
                return None;
            }
            let at = self.next;
            let h = match container::container_header(&file[at as usize..], major) {
                Ok(h) => h,
                Err(c) => {
                    self.done = true;
                    return Some(Err(Error::new(at, c)));
                }
            };
            let stop = at + h.total_len() as u64;
            if stop > file.len() as u64 {
                self.done = true;
                return Some(Err(Error::new(at, Cause::Truncated("container"))));
            }
            self.next = stop;
            if h.is_eof() {
                self.eof_container = true;
                continue;
            }
            if h.records == 0 && h.landmarks.is_empty() {
                continue;
            }
            self.eof_container = false;
            return Some(Ok(Job::Container(at, end)));
        }
    }
}
