//! BAM inputs one after the other as one stream ([`super::BatchStream::bam`]): the same columns for every input, one reference dictionary, the `file` column.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::SchemaRef;

use super::options::BamOptions;
use crate::bam;
use crate::io::Input;
use crate::Error;

pub(super) struct BamChain {
    pub(super) options: BamOptions,
    pub(super) inputs: Vec<Arc<Input>>,
    pub(super) sizes: Vec<u64>,
    pub(super) next: usize,
    pub(super) reader: Option<bam::Reader>,
    pub(super) dictionary: Option<Arc<arrow_array::StringArray>>,
    pub(super) schema: SchemaRef,
    pub(super) done_bytes: u64,
    pub(super) rows: u64,
    pub(super) warnings: Vec<String>,
    /// The input paths, for the `file` column.
    pub(super) files: Option<Arc<arrow_array::StringArray>>,
}

impl BamChain {
    pub(super) fn open(&mut self) -> Result<Option<&mut bam::Reader>, Error> {
        if self.reader.is_none() {
            let Some(input) = self.inputs.get(self.next).cloned() else {
                return Ok(None);
            };
            let mut b = bam::Reader::builder();
            if let Some(t) = self.options.threads {
                b = b.threads(t);
            }
            if let Some(n) = self.options.batch_rows {
                b = b.batch_rows(n);
            }
            if let Some(cols) = &self.options.columns {
                b = b.columns(cols).map_err(usage)?;
            }
            if !self.options.tags.is_empty() {
                b = b.tags(&self.options.tags).map_err(usage)?;
            }
            if let Some(l) = self.options.limit {
                b = b.limit(l);
            }
            if let Some(d) = &self.dictionary {
                b = b.dictionary(d.clone());
            }
            if let Some((start, end)) = self.options.byte_range {
                b = b.byte_range(start, end);
            }
            b = b.filter(self.options.filter).regions(&self.options.regions);
            if let Some(ix) = &self.options.index {
                b = b.index(ix);
            }
            let path = input.path().to_path_buf();
            let mut reader = b.build(input)?;
            self.warnings.extend(reader.take_warnings());
            let schema = match &self.files {
                Some(_) => bam::with_file_field(&reader.schema()),
                None => reader.schema(),
            };
            // Columns must agree; the schema metadata (the header) is the first input's.
            if self.next > 0 && schema.fields() != self.schema.fields() {
                return Err(Error::usage(format!(
                    "{}: its tag columns get other types than in the first input's first \
                     records; give each tag's type (NM:i, XF:f, ...)",
                    path.display()
                ))
                .at(Some(&path), crate::Location::File));
            }
            if self.next == 0 {
                self.schema = schema;
            }
            self.dictionary.get_or_insert_with(|| reader.dictionary());
            self.reader = Some(reader);
        }
        Ok(self.reader.as_mut())
    }

    pub(super) fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        // (A byte range does not own the end of the file: no warning for a split.)
        let whole = self.options.limit.is_none()
            && self.options.byte_range.is_none()
            && self.options.regions.is_empty();
        while let Some(reader) = self.open()? {
            if let Some(batch) = reader.next_batch()? {
                self.rows += batch.num_rows() as u64;
                return Ok(Some(match &self.files {
                    Some(names) => bam::with_file_column(&batch, self.next, names)?,
                    None => batch,
                }));
            }
            let late = reader.take_warnings();
            let no_marker = reader.eof_marker() == Some(false);
            if whole && no_marker {
                self.warnings.push(format!(
                    "{}: no BGZF EOF marker block at the end; the file may be truncated",
                    self.inputs[self.next].path().display()
                ));
            }
            self.warnings.extend(late);
            self.done_bytes += self.sizes[self.next];
            self.next += 1;
            self.reader = None;
        }
        Ok(None)
    }
}

/// An option error from a reader builder, as a usage error.
pub(super) fn usage(e: impl Into<Error>) -> Error {
    e.into().into_usage()
}
