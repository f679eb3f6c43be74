//! Data series decoders for one slice: each encoding of the compression header bound to the
//! slice's blocks (external blocks by content id, the core block's bits).

use std::collections::HashMap;

use super::encoding::{Bits, Encoding, Huffman};
use super::error::Cause;
use super::num::itf8;

/// An external block's bytes and read position.
pub(crate) struct External {
    pub(crate) id: i32,
    pub(crate) data: Vec<u8>,
    pub(crate) pos: usize,
}

/// The blocks a slice's records are read from.
pub(crate) struct Blocks<'a> {
    pub(crate) core: Bits<'a>,
    pub(crate) ext: &'a mut [External],
}

/// Where an external encoding's block is among the slice's blocks (`None`: absent, an error
/// only when a value is read).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ext {
    id: i32,
    index: Option<usize>,
}

impl Ext {
    fn bind(id: i32, ext: &[External]) -> Self {
        Self {
            id,
            index: ext.iter().position(|e| e.id == id),
        }
    }

    #[inline]
    fn block<'b>(&self, blocks: &'b mut Blocks<'_>) -> Result<&'b mut External, Cause> {
        match self.index {
            Some(i) => Ok(&mut blocks.ext[i]),
            None => Err(Cause::MissingBlock(self.id)),
        }
    }
}

/// An integer (or byte) series.
#[derive(Debug, Clone)]
pub(crate) enum Int {
    /// No encoding: reading it is an error naming the series.
    Absent(&'static str),
    Ext(Ext),
    Huffman(Huffman),
    Beta(i32, u32),
    Gamma(i32),
    Subexp(i32, u32),
}

/// A byte-array series.
#[derive(Debug, Clone)]
pub(crate) enum Array {
    Absent(&'static str),
    /// Length, then bytes (each from the byte decoder; external bytes are copied at once).
    Len(Box<Int>, Box<Int>),
    Stop(u8, Ext),
}

fn exhausted(what: &str) -> Cause {
    Cause::Exhausted(what.to_string())
}

impl Int {
    pub(crate) fn bind(
        name: &'static str,
        e: Option<&Encoding>,
        ext: &[External],
    ) -> Result<Self, Cause> {
        Ok(match e {
            None | Some(Encoding::Null) => Self::Absent(name),
            Some(Encoding::External(id)) => Self::Ext(Ext::bind(*id, ext)),
            Some(Encoding::Huffman { symbols, lengths }) => {
                Self::Huffman(Huffman::new(symbols, lengths))
            }
            Some(Encoding::Beta { offset, bits }) => Self::Beta(*offset, *bits),
            Some(Encoding::Gamma { offset }) => Self::Gamma(*offset),
            Some(Encoding::Subexp { offset, k }) => Self::Subexp(*offset, *k),
            Some(other) => {
                return Err(Cause::BadEncoding {
                    series: name.into(),
                    id: encoding_id(other),
                })
            }
        })
    }

    /// An integer (external: ITF8).
    #[inline]
    pub(crate) fn int(&self, b: &mut Blocks<'_>) -> Result<i32, Cause> {
        match self {
            Self::Ext(x) => {
                let e = x.block(b)?;
                let mut src = &e.data[e.pos.min(e.data.len())..];
                let before = src.len();
                let v =
                    itf8(&mut src, "external block").map_err(|_| exhausted("an integer series"))?;
                e.pos += before - src.len();
                Ok(v)
            }
            _ => self.bits(b),
        }
    }

    /// A byte (external: one byte).
    #[inline]
    pub(crate) fn byte(&self, b: &mut Blocks<'_>) -> Result<u8, Cause> {
        match self {
            Self::Ext(x) => {
                let e = x.block(b)?;
                let v = *e
                    .data
                    .get(e.pos)
                    .ok_or_else(|| exhausted("a byte series"))?;
                e.pos += 1;
                Ok(v)
            }
            _ => Ok(self.bits(b)? as u8),
        }
    }

    /// `n` bytes appended to `out`.
    pub(crate) fn bytes(
        &self,
        b: &mut Blocks<'_>,
        n: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Cause> {
        match self {
            // Nothing to read needs no block (htslib reads the qualities of a record without
            // bases so, from a slice that has no quality block).
            Self::Ext(_) if n == 0 => Ok(()),
            Self::Ext(x) => {
                let e = x.block(b)?;
                let v = e
                    .data
                    .get(e.pos..e.pos.saturating_add(n))
                    .ok_or_else(|| exhausted("a byte series"))?;
                out.extend_from_slice(v);
                e.pos += n;
                Ok(())
            }
            _ => {
                for _ in 0..n {
                    out.push(self.bits(b)? as u8);
                }
                Ok(())
            }
        }
    }

    #[inline]
    fn bits(&self, b: &mut Blocks<'_>) -> Result<i32, Cause> {
        let core = &mut b.core;
        let v = match self {
            Self::Absent(name) => return Err(Cause::NoEncoding(format!("data series {name}"))),
            Self::Ext(_) => unreachable!("external values are read by the callers"),
            Self::Huffman(h) => h.decode(core),
            Self::Beta(o, n) => core.beta(*o, *n),
            Self::Gamma(o) => core.gamma(*o),
            Self::Subexp(o, k) => core.subexp(*o, *k),
        };
        v.ok_or_else(|| exhausted("the core block"))
    }
}

impl Array {
    pub(crate) fn bind(
        name: &'static str,
        e: Option<&Encoding>,
        ext: &[External],
    ) -> Result<Self, Cause> {
        Ok(match e {
            None | Some(Encoding::Null) => Self::Absent(name),
            Some(Encoding::ByteArrayLen { len, value }) => Self::Len(
                Box::new(Int::bind(name, Some(len), ext)?),
                Box::new(Int::bind(name, Some(value), ext)?),
            ),
            Some(Encoding::ByteArrayStop { stop, block }) => {
                Self::Stop(*stop, Ext::bind(*block, ext))
            }
            Some(other) => {
                return Err(Cause::BadEncoding {
                    series: name.into(),
                    id: encoding_id(other),
                })
            }
        })
    }

    /// Appends the next array to `out`; returns its length.
    pub(crate) fn read(&self, b: &mut Blocks<'_>, out: &mut Vec<u8>) -> Result<usize, Cause> {
        match self {
            Self::Absent(name) => Err(Cause::NoEncoding(format!("data series {name}"))),
            Self::Len(len, value) => {
                let n = len.int(b)?;
                let n = usize::try_from(n)
                    .map_err(|_| Cause::Negative("byte array length", n.into()))?;
                value.bytes(b, n, out)?;
                Ok(n)
            }
            Self::Stop(stop, x) => {
                let e = x.block(b)?;
                let rest = &e.data[e.pos.min(e.data.len())..];
                let n = memchr::memchr(*stop, rest).ok_or_else(|| exhausted("a byte array"))?;
                out.extend_from_slice(&rest[..n]);
                e.pos += n + 1;
                Ok(n)
            }
        }
    }
}

fn encoding_id(e: &Encoding) -> i32 {
    match e {
        Encoding::Null => 0,
        Encoding::External(_) => 1,
        Encoding::Golomb => 2,
        Encoding::Huffman { .. } => 3,
        Encoding::ByteArrayLen { .. } => 4,
        Encoding::ByteArrayStop { .. } => 5,
        Encoding::Beta { .. } => 6,
        Encoding::Subexp { .. } => 7,
        Encoding::GolombRice => 8,
        Encoding::Gamma { .. } => 9,
    }
}

/// Every data series of CRAM 3, bound for one slice.
pub(crate) struct Series {
    pub(crate) bf: Int,
    pub(crate) cf: Int,
    pub(crate) ri: Int,
    pub(crate) rl: Int,
    pub(crate) ap: Int,
    pub(crate) rg: Int,
    pub(crate) rn: Array,
    pub(crate) mf: Int,
    pub(crate) ns: Int,
    pub(crate) np: Int,
    pub(crate) ts: Int,
    pub(crate) nf: Int,
    pub(crate) tl: Int,
    pub(crate) fn_: Int,
    pub(crate) fc: Int,
    pub(crate) fp: Int,
    pub(crate) dl: Int,
    pub(crate) bb: Array,
    pub(crate) qq: Array,
    pub(crate) bs: Int,
    pub(crate) in_: Array,
    pub(crate) rs: Int,
    pub(crate) pd: Int,
    pub(crate) hc: Int,
    pub(crate) sc: Array,
    pub(crate) mq: Int,
    pub(crate) ba: Int,
    pub(crate) qs: Int,
    /// Tag values by tag key.
    pub(crate) tags: HashMap<i32, Array>,
}

impl Series {
    pub(crate) fn bind(
        series: &HashMap<[u8; 2], Encoding>,
        tags: &HashMap<i32, Encoding>,
        ext: &[External],
    ) -> Result<Self, Cause> {
        macro_rules! int {
            ($k:literal) => {
                Int::bind(
                    $k,
                    series.get(&{
                        let k: &[u8; 2] = $k.as_bytes().try_into().expect("two-letter key");
                        *k
                    }),
                    ext,
                )?
            };
        }
        macro_rules! arr {
            ($k:literal) => {
                Array::bind(
                    $k,
                    series.get(&{
                        let k: &[u8; 2] = $k.as_bytes().try_into().expect("two-letter key");
                        *k
                    }),
                    ext,
                )?
            };
        }
        let mut t = HashMap::with_capacity(tags.len());
        for (&key, e) in tags {
            t.insert(key, Array::bind("a tag", Some(e), ext)?);
        }
        Ok(Self {
            bf: int!("BF"),
            cf: int!("CF"),
            ri: int!("RI"),
            rl: int!("RL"),
            ap: int!("AP"),
            rg: int!("RG"),
            rn: arr!("RN"),
            mf: int!("MF"),
            ns: int!("NS"),
            np: int!("NP"),
            ts: int!("TS"),
            nf: int!("NF"),
            tl: int!("TL"),
            fn_: int!("FN"),
            fc: int!("FC"),
            fp: int!("FP"),
            dl: int!("DL"),
            bb: arr!("BB"),
            qq: arr!("QQ"),
            bs: int!("BS"),
            in_: arr!("IN"),
            rs: int!("RS"),
            pd: int!("PD"),
            hc: int!("HC"),
            sc: arr!("SC"),
            mq: int!("MQ"),
            ba: int!("BA"),
            qs: int!("QS"),
            tags: t,
        })
    }
}
