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

// By stage: where records are (`frame`: framing, record starts, byte-range splits), what a
// record holds (`record`: fields, aux data, tags), records into Arrow (`decode`), where regions
// are (`index`: BAI/CSI, bins, regions), records one at a time as text (`view`); the reader's
// front (`builder`, `reader`, `stream`) and what every stage shares (`header`, `error`,
// `filter`) stay here.
mod builder;
pub(crate) mod decode;
mod error;
mod filter;
pub(crate) mod frame;
mod header;
pub(crate) mod index;
mod reader;
pub(crate) mod record;
pub(crate) mod stream;
pub(crate) mod view;

pub use builder::ReaderBuilder;
pub use decode::batch::{BatchDecoder, DecodeError};
pub use decode::columns::{Projection, COLUMNS};
pub use error::{Error, ErrorKind, HeaderError, RecordError};
pub use filter::{parse_flags, Filter};
pub use frame::split::{split_start, CHAIN as SPLIT_CHAIN};
pub use frame::{Located, Records};
pub use header::{Header, Reference, METADATA_HEADER, METADATA_REFERENCES};
pub(crate) use index::index_candidates;
pub(crate) use index::region::Region;
pub use index::{Index, IndexFormat};
pub use reader::Reader;
pub(crate) use record::tags::{parse_spec as parse_tag_spec, TagKind};
pub use record::Record;
pub use view::sam::push_record as push_sam;
pub use view::walk::{push_sam_checked, walk};

/// Name of the column [`with_file_column`] adds.
pub(crate) const FILE_COLUMN: &str = "file";

/// The warning for an input whose end has no end-of-file marker: BAM's EOF marker block, or
/// CRAM's end-of-file container.
pub(crate) fn no_eof_marker(path: &std::path::Path, cram: bool) -> String {
    let marker = if cram {
        "CRAM end-of-file container"
    } else {
        "BGZF EOF marker block"
    };
    format!(
        "{}: no {marker} at the end; the file may be truncated",
        path.display()
    )
}

/// `schema` with the `file` column (Dictionary(Int32, Utf8), not null) appended.
pub(crate) fn with_file_field(schema: &arrow_schema::SchemaRef) -> arrow_schema::SchemaRef {
    use arrow_schema::{DataType, Field};
    let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
    let ty = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    fields.push(std::sync::Arc::new(Field::new(FILE_COLUMN, ty, false)));
    std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}

/// `batch` with a `file` column saying every row came from input `file` of `names` (one
/// dictionary shared by every batch, as the IPC file format requires).
pub(crate) fn with_file_column(
    batch: &arrow_array::RecordBatch,
    file: usize,
    names: &std::sync::Arc<arrow_array::StringArray>,
) -> Result<arrow_array::RecordBatch, arrow_schema::ArrowError> {
    let key = i32::try_from(file)
        .ok()
        .filter(|&k| (k as usize) < arrow_array::Array::len(names.as_ref()))
        .ok_or_else(|| {
            arrow_schema::ArrowError::InvalidArgumentError(format!(
                "input {file} is not one of the {} file names",
                arrow_array::Array::len(names.as_ref())
            ))
        })?;
    let keys = arrow_array::Int32Array::from(vec![key; batch.num_rows()]);
    let column = arrow_array::DictionaryArray::<arrow_array::types::Int32Type>::try_new(
        keys,
        names.clone(),
    )?;
    let mut columns = batch.columns().to_vec();
    columns.push(std::sync::Arc::new(column));
    arrow_array::RecordBatch::try_new(with_file_field(&batch.schema()), columns)
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn with_file_column_adds_the_file() -> Result<(), Box<dyn std::error::Error>> {
        use std::sync::Arc;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.bam");
        let mut reader = crate::bam::Reader::builder()
            .columns(&["pos"])?
            .build(crate::io::Input::open(path)?)?;
        let names = Arc::new(arrow_array::StringArray::from(vec!["a.bam", "b.bam"]));
        let batch = reader.next_batch()?.expect("a batch");
        let tagged = crate::bam::with_file_column(&batch, 1, &names)?;
        assert_eq!(tagged.schema().field(1).name(), "file");
        Ok(())
    }
}
