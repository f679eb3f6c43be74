//! BAM: header, record framing and validation, SAM text, and Arrow record batches.
//!
//! ```
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
//! let input = rawarrow::io::Input::open(path)?;
//! let mut records = rawarrow::bam::Records::new(input, rawarrow::bgzf::Options::default())?;
//! let header = records.header().clone();
//! assert_eq!(header.references[0].name, "chrS1");
//! let mut sam = Vec::new();
//! while records.next_chunk(|r, _| {
//!     rawarrow::bam::push_sam(r, &header, &mut sam);
//!     Ok(true)
//! })? {}
//! assert!(sam.starts_with(b"sim:"));
//! assert_eq!(records.count(), 4000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod aux;
mod batch;
mod error;
mod filter;
mod frame;
mod header;
mod index;
mod reader;
mod record;
mod region;
pub(crate) mod sam;
mod split;
mod tags;

pub use aux::{push_float, push_float_kputd, Field};
pub use batch::{BatchDecoder, DecodeError, Projection, COLUMNS};
pub use error::{Error, ErrorKind, HeaderError, RecordError};
pub use filter::{parse_flags, Filter};
pub use frame::{Located, Records};
pub use header::{Header, Reference, METADATA_HEADER, METADATA_REFERENCES};
pub use index::{index_candidates, Bin, Index, IndexFormat, RefIndex};
pub(crate) use reader::plan_regions;
pub use reader::{Reader, ReaderBuilder};
pub use record::Record;
pub use region::Region;
pub use sam::push_record as push_sam;
pub use split::{split_start, CHAIN as SPLIT_CHAIN};
pub use tags::{parse_spec as parse_tag_spec, TagKind};
