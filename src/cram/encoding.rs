//! The encodings of data series and tags (CRAM 3.0 §13): where each value's bits or bytes are
//! (the core block's bit stream, or an external block) and how they are coded.

use super::error::Cause;
use super::num::{itf8, itf8_len, take, u8};

/// An encoding as the compression header declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Encoding {
    Null,
    /// Values in the external block with this content id (integers as ITF8, bytes as bytes).
    External(i32),
    /// Canonical Huffman over the core block's bits.
    Huffman {
        symbols: Vec<i32>,
        lengths: Vec<u32>,
    },
    /// A byte array: its length, then its bytes.
    ByteArrayLen {
        len: Box<Encoding>,
        value: Box<Encoding>,
    },
    /// A byte array ending at a stop byte, in an external block.
    ByteArrayStop {
        stop: u8,
        block: i32,
    },
    /// A fixed number of bits, minus an offset.
    Beta {
        offset: i32,
        bits: u32,
    },
    Subexp {
        offset: i32,
        k: u32,
    },
    Gamma {
        offset: i32,
    },
    Golomb,
    GolombRice,
}

impl Encoding {
    /// Reads an encoding: its id, the length of its parameters, the parameters.
    pub(crate) fn read(src: &mut &[u8]) -> Result<Self, Cause> {
        let what = "encoding";
        let id = itf8(src, what)?;
        let len = itf8_len(src, what)?;
        let mut p = take(src, len, "encoding parameters")?;
        let p = &mut p;
        let e = match id {
            0 => Self::Null,
            1 => Self::External(itf8(p, what)?),
            2 => Self::Golomb,
            3 => {
                let n = itf8_len(p, what)?;
                if n > p.len() {
                    return Err(Cause::TooLarge("Huffman alphabet", n as u64));
                }
                let symbols = (0..n)
                    .map(|_| itf8(p, what))
                    .collect::<Result<Vec<_>, _>>()?;
                let m = itf8_len(p, what)?;
                if m != n {
                    return Err(Cause::Invalid(
                        "Huffman encoding (symbol and length counts differ)",
                    ));
                }
                let lengths = (0..m)
                    .map(|_| {
                        let l = itf8(p, what)?;
                        u32::try_from(l)
                            .ok()
                            .filter(|&l| l <= 31)
                            .ok_or(Cause::Invalid("Huffman code length"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                // No symbols (htsjdk writes such codes for series it never uses): decoding
                // a value from it is the error, as in htslib.
                Self::Huffman { symbols, lengths }
            }
            4 => {
                let len = Box::new(Self::read(p)?);
                let value = Box::new(Self::read(p)?);
                Self::ByteArrayLen { len, value }
            }
            5 => {
                let stop = u8(p, what)?;
                Self::ByteArrayStop {
                    stop,
                    block: itf8(p, what)?,
                }
            }
            6 => {
                let offset = itf8(p, what)?;
                let bits = itf8(p, what)?;
                let bits = u32::try_from(bits)
                    .ok()
                    .filter(|&b| b <= 32)
                    .ok_or(Cause::Invalid("beta encoding's bit count"))?;
                Self::Beta { offset, bits }
            }
            7 => {
                let offset = itf8(p, what)?;
                let k = itf8(p, what)?;
                let k = u32::try_from(k)
                    .ok()
                    .filter(|&k| k < 32)
                    .ok_or(Cause::Invalid("subexponential encoding's k"))?;
                Self::Subexp { offset, k }
            }
            8 => Self::GolombRice,
            9 => Self::Gamma {
                offset: itf8(p, what)?,
            },
            _ => {
                return Err(Cause::BadEncoding {
                    series: "a data series".into(),
                    id,
                })
            }
        };
        Ok(e)
    }
}

/// The core block's bits, most significant first.
pub(crate) struct Bits<'a> {
    data: &'a [u8],
    /// Next bit, counted from the start.
    pos: usize,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    #[inline]
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos >> 3)?;
        let b = (byte >> (7 - (self.pos & 7))) & 1;
        self.pos += 1;
        Some(u32::from(b))
    }

    #[inline]
    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }
}

/// A canonical Huffman code, ready to decode: codes of each length in order.
#[derive(Debug, Clone)]
pub(crate) enum Huffman {
    /// One symbol, no bits.
    Constant(i32),
    /// `(length, first code of that length, symbols of that length in code order)`.
    Codes(Vec<(u32, u32, Vec<i32>)>),
}

impl Huffman {
    pub(crate) fn new(symbols: &[i32], lengths: &[u32]) -> Self {
        if symbols.len() == 1 {
            return Self::Constant(symbols[0]);
        }
        // Canonical: sorted by (length, symbol); codes count up, shifted left at each longer
        // length.
        let mut order: Vec<(u32, i32)> = lengths
            .iter()
            .copied()
            .zip(symbols.iter().copied())
            .collect();
        order.sort_unstable();
        let mut groups: Vec<(u32, u32, Vec<i32>)> = Vec::new();
        let mut code = 0u32;
        let mut last_len = order.first().map_or(0, |o| o.0);
        for (len, sym) in order {
            if len > last_len {
                code <<= len - last_len;
                last_len = len;
            }
            match groups.last_mut() {
                Some(g) if g.0 == len => g.2.push(sym),
                _ => groups.push((len, code, vec![sym])),
            }
            code = code.wrapping_add(1);
        }
        Self::Codes(groups)
    }

    #[inline]
    pub(crate) fn decode(&self, bits: &mut Bits<'_>) -> Option<i32> {
        match self {
            Self::Constant(s) => Some(*s),
            Self::Codes(groups) => {
                let mut code = 0u32;
                let mut len = 0u32;
                for (l, first, syms) in groups {
                    code = (code << (l - len)) | bits.bits(l - len)?;
                    len = *l;
                    let i = code.wrapping_sub(*first);
                    if (i as usize) < syms.len() {
                        return Some(syms[i as usize]);
                    }
                }
                None
            }
        }
    }
}

impl Bits<'_> {
    /// Reads a value of the bit-level encodings.
    pub(crate) fn beta(&mut self, offset: i32, n: u32) -> Option<i32> {
        Some((self.bits(n)? as i32).wrapping_sub(offset))
    }

    pub(crate) fn gamma(&mut self, offset: i32) -> Option<i32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let v = (1u32 << zeros) | self.bits(zeros)?;
        Some((v as i32).wrapping_sub(offset))
    }

    pub(crate) fn subexp(&mut self, offset: i32, k: u32) -> Option<i32> {
        let mut i = 0u32;
        while self.bit()? == 1 {
            i += 1;
            if i > 31 {
                return None;
            }
        }
        let v = if i == 0 {
            self.bits(k)?
        } else {
            let b = i + k - 1;
            if b > 31 {
                return None;
            }
            (1u32 << b) | self.bits(b)?
        };
        Some((v as i32).wrapping_sub(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_huffman_codes() {
        // Lengths 1, 2, 3, 3 for symbols 10, 20, 30, 40: codes 0, 10, 110, 111.
        let h = Huffman::new(&[30, 10, 40, 20], &[3, 1, 3, 2]);
        // 0 | 10 | 110 | 111 | 0  → 0101 1011 10..
        let data = [0b0101_1011, 0b1000_0000];
        let mut bits = Bits::new(&data);
        let got: Vec<i32> = (0..5)
            .map(|_| h.decode(&mut bits).expect("test input"))
            .collect();
        assert_eq!(got, [10, 20, 30, 40, 10]);
        let one = Huffman::new(&[7], &[0]);
        assert_eq!(one.decode(&mut Bits::new(&[])), Some(7));
    }

    #[test]
    fn gamma_beta_subexp() {
        // gamma: 1 → 1; 010 → 2; 00100 → 4.
        let data = [0b1010_0010, 0b0000_0000];
        let mut b = Bits::new(&data);
        assert_eq!(b.gamma(0), Some(1));
        assert_eq!(b.gamma(0), Some(2));
        assert_eq!(b.gamma(1), Some(3));
        let mut b = Bits::new(&[0b1011_0000]);
        assert_eq!(b.beta(1, 4), Some(10));
        // subexp k=2: 0 then 2 bits "11" → 3; 10 then (1+2-1)=2 bits "01" → 4+1 = 5.
        let mut b = Bits::new(&[0b0111_0010]);
        assert_eq!(b.subexp(0, 2), Some(3));
        assert_eq!(b.subexp(0, 2), Some(5));
    }
}
