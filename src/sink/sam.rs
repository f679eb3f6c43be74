//! BAM records as SAM text ([`SamSink`]): the header, then one line per row, as `samtools view
//! -h` prints them, from the record table's columns.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt16Type, UInt8Type};
use arrow_array::{Array, DictionaryArray, RecordBatch, StringArray};
use arrow_schema::SchemaRef;

use super::Sink;
use crate::Error;

/// The columns a SAM line is made of, in SAM's order.
const SAM_COLUMNS: [&str; 12] = [
    "qname", "flag", "rname", "pos", "mapq", "cigar", "rnext", "pnext", "tlen", "seq", "qual",
    "tags",
];

/// SAM text at a path (`-`: standard output), written under a temporary name and renamed when
/// finished; dropped unfinished, it leaves nothing. The header is the one the stream's schema
/// carries (`rawarrow:sam_header` and `rawarrow:references`), as `samtools view -h` prints it;
/// each row is the record's SAM line: `*`, `0` or `255` for a null field, `=` for a mate on
/// the record's own reference. A record whose CIGAR is stored in its `CG` tag prints the real
/// CIGAR (the `cigar` column) beside that tag, where samtools prints the placeholder.
#[derive(Debug)]
pub(crate) struct SamSink {
    out: BufWriter<std::fs::File>,
    pending: crate::io::Pending,
    path: PathBuf,
    /// Where each of [`SAM_COLUMNS`] is in the stream's batches.
    columns: [usize; 12],
    line: Vec<u8>,
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    let message = format!("{}: {e}", path.display());
    Error::from(e).named(path, message)
}

impl SamSink {
    /// Starts writing the BAM records of `schema` (which must hold every column of a SAM
    /// line, and the header in its metadata) to `path`, header first.
    pub(crate) fn create(path: &Path, schema: &SchemaRef) -> Result<Self, Error> {
        let mut columns = [0; 12];
        let mut missing = Vec::new();
        for (slot, name) in columns.iter_mut().zip(SAM_COLUMNS) {
            match schema.index_of(name) {
                Ok(i) => *slot = i,
                Err(_) => missing.push(name),
            }
        }
        let header = crate::bam::Header::from_schema(schema);
        let Some(header) = header.filter(|_| missing.is_empty()) else {
            if missing.is_empty() {
                missing.push("the SAM header in the schema metadata");
            }
            return Err(Error::usage(format!(
                "{}: SAM text holds BAM records (the columns {} and the header); this stream \
                 lacks {}",
                path.display(),
                SAM_COLUMNS.join(","),
                missing.join(",")
            )));
        };
        let (file, pending) = if path == Path::new("-") {
            let file = crate::io::stdout_file().map_err(|e| io_error(path, e))?;
            (file, crate::io::Pending::nothing())
        } else {
            crate::io::create_output(path).map_err(|e| io_error(path, e))?
        };
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header.sam_bytes())
            .map_err(|e| io_error(path, e))?;
        Ok(Self {
            out,
            pending,
            path: path.to_path_buf(),
            columns,
            line: Vec::with_capacity(1 << 10),
        })
    }
}

/// A column of the record table as the type the reader gives it, or a usage error naming it.
fn column<'a, T: 'static>(
    batch: &'a RecordBatch,
    at: usize,
    cast: impl Fn(&'a dyn Array) -> Option<&'a T>,
) -> Result<&'a T, Error> {
    let array = batch.column(at).as_ref();
    cast(array).ok_or_else(|| {
        Error::usage(format!(
            "SAM text: column {} is {}, not the BAM reader's type",
            batch.schema().field(at).name(),
            array.data_type()
        ))
    })
}

fn text(out: &mut Vec<u8>, a: &StringArray, row: usize) {
    if a.is_null(row) {
        out.push(b'*');
    } else {
        out.extend_from_slice(a.value(row).as_bytes());
    }
}

fn name<'a>(
    a: &'a DictionaryArray<Int32Type>,
    names: &'a StringArray,
    row: usize,
) -> Option<&'a str> {
    (!a.is_null(row)).then(|| names.value(a.keys().value(row) as usize))
}

impl Sink for SamSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let c = self.columns;
        let strings = |i| column(batch, c[i], |a| a.as_string_opt::<i32>());
        let dict = |i| column(batch, c[i], |a| a.as_dictionary_opt::<Int32Type>());
        let int = |i| column(batch, c[i], |a| a.as_primitive_opt::<Int32Type>());
        let (qname, cigar, seq, qual, tags) = (
            strings(0)?,
            strings(5)?,
            strings(9)?,
            strings(10)?,
            strings(11)?,
        );
        let (rname, rnext) = (dict(2)?, dict(6)?);
        let (pos, pnext, tlen) = (int(3)?, int(7)?, int(8)?);
        let flag = column(batch, c[1], |a| a.as_primitive_opt::<UInt16Type>())?;
        let mapq = column(batch, c[4], |a| a.as_primitive_opt::<UInt8Type>())?;
        let names = |d: &DictionaryArray<Int32Type>| {
            d.values().as_string_opt::<i32>().cloned().ok_or_else(|| {
                Error::usage("SAM text: rname/rnext are not dictionaries of strings")
            })
        };
        let (rnames, nnames) = (names(rname)?, names(rnext)?);
        let mut n = itoa::Buffer::new();
        let line = &mut self.line;
        for row in 0..batch.num_rows() {
            line.clear();
            text(line, qname, row);
            line.push(b'\t');
            line.extend_from_slice(n.format(flag.value(row)).as_bytes());
            line.push(b'\t');
            let reference = name(rname, &rnames, row);
            line.extend_from_slice(reference.unwrap_or("*").as_bytes());
            line.push(b'\t');
            let at = |a: &arrow_array::Int32Array| if a.is_null(row) { 0 } else { a.value(row) };
            line.extend_from_slice(n.format(at(pos)).as_bytes());
            line.push(b'\t');
            let q = if mapq.is_null(row) {
                255
            } else {
                mapq.value(row)
            };
            line.extend_from_slice(n.format(q).as_bytes());
            line.push(b'\t');
            text(line, cigar, row);
            line.push(b'\t');
            match name(rnext, &nnames, row) {
                None => line.push(b'*'),
                Some(mate) if Some(mate) == reference => line.push(b'='),
                Some(mate) => line.extend_from_slice(mate.as_bytes()),
            }
            line.push(b'\t');
            line.extend_from_slice(n.format(at(pnext)).as_bytes());
            line.push(b'\t');
            line.extend_from_slice(n.format(tlen.value(row)).as_bytes());
            line.push(b'\t');
            text(line, seq, row);
            line.push(b'\t');
            text(line, qual, row);
            if !tags.is_null(row) && !tags.value(row).is_empty() {
                line.push(b'\t');
                line.extend_from_slice(tags.value(row).as_bytes());
            }
            line.push(b'\n');
            if let Err(e) = self.out.write_all(line) {
                return Err(io_error(&self.path, e));
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), Error> {
        let Self {
            out, pending, path, ..
        } = *self;
        let file = out
            .into_inner()
            .map_err(|e| io_error(&path, e.into_error()))?;
        pending.commit(&file).map_err(|e| io_error(&path, e))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
