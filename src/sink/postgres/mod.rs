//! Arrow record batches into PostgreSQL tables, through `COPY … FROM STDIN (FORMAT binary)`.
//!
//! [`PgSink`] is the [`Sink`](super::Sink) of any stream: BAM records, timsTOF peaks,
//! precursors, spectra and windows, MIDI notes (with their `files` table). Where a table has a
//! natural key — MIDI files (path, size, modification time), timsTOF peaks (whole frames, in
//! frame order) — each batch is committed in its own transaction, so an interrupted run loses
//! at most the batch in flight and [`Postgres::resume`] continues after what was committed;
//! other tables are written in one transaction, so an interrupted run leaves nothing.
//!
//! [`PgTable::create`] makes a table (if missing) whose columns follow an Arrow schema;
//! [`PgTable::copy`] appends a batch in PostgreSQL's binary COPY format, inside whatever
//! transaction the caller holds. Types:
//!
//! | Arrow | PostgreSQL |
//! |---|---|
//! | Int8, UInt8, Int16 | `smallint` |
//! | UInt16, Int32 | `integer` |
//! | UInt32, Int64, UInt64 (values past 2⁶³ − 1 are an error) | `bigint` |
//! | Float32, Float64 | `real`, `double precision` |
//! | Boolean | `boolean` |
//! | Utf8, LargeUtf8, Dictionary(_, Utf8) | `text` |
//! | `List<T>` of any of these but text | `T[]` (one dimension; null elements as NULL) |
//!
//! Arrow nulls are SQL NULLs; column names are quoted as given.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};

mod copy;
mod error;

pub(crate) use copy::{encode, pg_type};
pub(crate) use error::Error;

/// Connects to `url` (`postgresql://user@host/db`, or `host=/run/postgresql user=me dbname=x`),
/// without TLS. The error names the URL without its password.
pub(crate) fn connect(url: &str) -> Result<postgres::Client, Error> {
    let shown = redact(url);
    let config: postgres::Config = url
        .parse()
        .map_err(|e| Error::pg(format!("{shown}: not a connection URL"), e))?;
    config
        .connect(postgres::NoTls)
        .map_err(|e| Error::pg(format!("cannot connect to {shown}"), e))
}

/// The URL with any password replaced by `***`.
fn redact(url: &str) -> String {
    if let Some(rest) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.1.split_once('@') {
            if let Some((user, _)) = userinfo.split_once(':') {
                return format!("{}://{user}:***@{host}", rest.0);
            }
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes an SQL identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table whose columns are an Arrow schema's.
#[derive(Debug, Clone)]
pub(crate) struct PgTable {
    /// `"schema"."table"`, quoted.
    name: String,
    schema: SchemaRef,
    copy: String,
}

impl PgTable {
    /// Creates `pg_schema.table` (and the schema) unless they exist, with one column per field
    /// of `schema`. An existing table is used as it is: its columns must accept the batches.
    pub(crate) fn create(
        client: &mut impl postgres::GenericClient,
        pg_schema: &str,
        table: &str,
        schema: &SchemaRef,
    ) -> Result<Self, Error> {
        let mut columns = Vec::new();
        for f in schema.fields() {
            let t = pg_type(f.data_type()).ok_or_else(|| {
                Error::new(format!(
                    "column {} is {}, which has no PostgreSQL type here",
                    f.name(),
                    f.data_type()
                ))
            })?;
            let null = if f.is_nullable() { "" } else { " NOT NULL" };
            columns.push(format!("{} {t}{null}", quote(f.name())));
        }
        let name = format!("{}.{}", quote(pg_schema), quote(table));
        let ddl = format!(
            "CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {name} ({})",
            quote(pg_schema),
            columns.join(", ")
        );
        client
            .batch_execute(&ddl)
            .map_err(|e| Error::pg(format!("creating {name}"), e))?;
        let list: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
        let copy = format!(
            "COPY {name} ({}) FROM STDIN (FORMAT binary)",
            list.join(", ")
        );
        Ok(Self {
            name,
            schema: schema.clone(),
            copy,
        })
    }

    /// The quoted `"schema"."table"`.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Appends `batch` (whose columns are the table's schema's) with one binary COPY, encoded
    /// into `data` (cleared first; a buffer kept from batch to batch, so its pages are touched
    /// once per run, not once per batch); returns the rows written.
    pub(crate) fn copy(
        &self,
        client: &mut impl postgres::GenericClient,
        batch: &RecordBatch,
        data: &mut Vec<u8>,
    ) -> Result<u64, Error> {
        if batch.num_columns() != self.schema.fields().len() {
            return Err(Error::new(format!(
                "{}: a batch of {} columns for a table of {}",
                self.name,
                batch.num_columns(),
                self.schema.fields().len()
            )));
        }
        data.clear();
        encode(batch, data).map_err(|m| Error::new(format!("{}: {m}", self.name)))?;
        let mut w = client
            .copy_in(self.copy.as_str())
            .map_err(|e| Error::pg(format!("COPY into {}", self.name), e))?;
        w.write_all(data)
            .map_err(|e| Error::new(format!("COPY into {}: {e}", self.name)))?;
        w.finish()
            .map_err(|e| Error::pg(format!("COPY into {}", self.name), e))
    }
}

/// A PostgreSQL destination: where, which tables, and whether to continue an earlier run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postgres {
    /// `postgresql://user@host/db`, or `host=/run/postgresql user=me dbname=x` (no TLS).
    pub url: String,
    /// The PostgreSQL schema of the tables (created if missing).
    pub schema: String,
    /// The table (created if missing, else appended to); `None`: the stream's own name
    /// (`records`, `peaks`, `precursors`, `spectra`, `windows`, `notes`; a MIDI `notes` stream
    /// also writes `files`).
    pub table: Option<String>,
    /// Continue after what an earlier, interrupted run committed: MIDI files whose path, size
    /// and modification time have a `files` row are not read again; timsTOF peaks start after
    /// the last frame in the table. Other tables have no natural key: a usage error.
    pub resume: bool,
}

impl Postgres {
    /// The destination `url`, schema `public`, the stream's table name, no resume.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: "public".into(),
            table: None,
            resume: false,
        }
    }
}

/// What an earlier run of the same conversion committed, for [`Postgres::resume`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Committed {
    /// MIDI: (path, size, mtime_ns) of each `files` row.
    pub(crate) files: std::collections::HashSet<(String, Option<i64>, Option<i64>)>,
    /// timsTOF peaks: the largest frame id in the table.
    pub(crate) last_frame: Option<u32>,
}

/// The `files` table as stored in PostgreSQL: the Arrow `files` table, then the file's size and
/// modification time (what a resumed run compares).
pub(crate) fn files_table_schema() -> SchemaRef {
    use arrow_schema::{Field, Schema};
    let base = crate::midi::files_schema();
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("size", DataType::Int64, true));
    fields.push(Field::new("mtime_ns", DataType::Int64, true));
    std::sync::Arc::new(Schema::new(fields))
}

/// A file's size and modification time in nanoseconds since the epoch.
pub(crate) fn stamp(path: &std::path::Path) -> (Option<i64>, Option<i64>) {
    let Ok(m) = std::fs::metadata(path) else {
        return (None, None);
    };
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok());
    (i64::try_from(m.len()).ok(), mtime)
}

/// Whether `"schema"."table"` exists.
fn exists(client: &mut postgres::Client, name: &str) -> Result<bool, Error> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .map_err(|e| Error::pg(format!("looking for {name}"), e))?;
    Ok(row.get(0))
}

/// What the tables `main` (and MIDI `files`) of `target` already hold, for a resumed run.
pub(crate) fn committed(
    client: &mut postgres::Client,
    target: &Postgres,
    main: &str,
    key: Key,
) -> Result<Committed, Error> {
    let mut out = Committed::default();
    match key {
        Key::None => {}
        Key::Files => {
            let name = format!("{}.{}", quote(&target.schema), quote("files"));
            if exists(client, &name)? {
                let query = format!("SELECT file, size, mtime_ns FROM {name}");
                let rows = client
                    .query(query.as_str(), &[])
                    .map_err(|e| Error::pg(format!("reading {name}"), e))?;
                for r in rows {
                    out.files.insert((r.get(0), r.get(1), r.get(2)));
                }
            }
        }
        Key::Frame => {
            let name = format!("{}.{}", quote(&target.schema), quote(main));
            if exists(client, &name)? {
                let query = format!("SELECT max(frame) FROM {name}");
                let row = client
                    .query_one(query.as_str(), &[])
                    .map_err(|e| Error::pg(format!("reading {name}"), e))?;
                let last: Option<i64> = row.get(0);
                out.last_frame = last.and_then(|f| u32::try_from(f).ok());
            }
        }
    }
    Ok(out)
}

/// The natural key of a table, which decides how a [`PgSink`] commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// No key: the whole run in one transaction.
    None,
    /// MIDI `notes` with `files`: each job's notes and files rows in one transaction.
    Files,
    /// timsTOF peaks: each batch of whole frames in one transaction.
    Frame,
}

/// Batches into a PostgreSQL table (and, for MIDI notes, the `files` table), through binary
/// COPY; see the module docs for when it commits. Dropped unfinished, what it has not
/// committed is rolled back.
pub(crate) struct PgSink {
    client: postgres::Client,
    main: PgTable,
    files: Option<PgTable>,
    key: Key,
    in_transaction: bool,
    /// The COPY data of the batch being written, kept for the next.
    buffer: Vec<u8>,
}

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink")
            .field("table", &self.main.name())
            .field("key", &self.key)
            .finish()
    }
}

impl PgSink {
    /// Creates (if missing) `table` in `target.schema` for `schema`, and `files` when `key` is
    /// [`Key::Files`], on the connection `client`.
    pub(crate) fn create(
        mut client: postgres::Client,
        target: &Postgres,
        table: &str,
        schema: &SchemaRef,
        key: Key,
    ) -> Result<Self, Error> {
        let main = PgTable::create(&mut client, &target.schema, table, schema)?;
        let files = match key {
            Key::Files => Some(PgTable::create(
                &mut client,
                &target.schema,
                "files",
                &files_table_schema(),
            )?),
            _ => None,
        };
        Ok(Self {
            client,
            main,
            files,
            key,
            in_transaction: false,
            buffer: Vec::new(),
        })
    }

    fn begin(&mut self) -> Result<(), Error> {
        if !self.in_transaction {
            self.client
                .batch_execute("BEGIN")
                .map_err(|e| Error::pg("starting a transaction", e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), Error> {
        if self.in_transaction {
            self.client
                .batch_execute("COMMIT")
                .map_err(|e| Error::pg(format!("committing into {}", self.main.name()), e))?;
            self.in_transaction = false;
        }
        Ok(())
    }

    /// The MIDI `files` rows with each file's size and modification time.
    fn stamped(files: &RecordBatch) -> Result<RecordBatch, Error> {
        let dict = files.column(0).as_dictionary::<Int32Type>();
        let names = dict.values().as_string::<i32>();
        let stamps: Vec<(Option<i64>, Option<i64>)> = dict
            .keys()
            .values()
            .iter()
            .map(|&k| stamp(std::path::Path::new(names.value(k as usize))))
            .collect();
        let mut columns = files.columns().to_vec();
        columns.push(std::sync::Arc::new(
            stamps
                .iter()
                .map(|s| s.0)
                .collect::<arrow_array::Int64Array>(),
        ));
        columns.push(std::sync::Arc::new(
            stamps
                .iter()
                .map(|s| s.1)
                .collect::<arrow_array::Int64Array>(),
        ));
        RecordBatch::try_new(files_table_schema(), columns)
            .map_err(|e| Error::new(format!("the files rows: {e}")))
    }
}

impl super::Sink for PgSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), crate::Error> {
        self.write_job(batch, &[])
    }

    fn write_job(
        &mut self,
        batch: &RecordBatch,
        files: &[RecordBatch],
    ) -> Result<(), crate::Error> {
        self.begin()?;
        if batch.num_rows() > 0 {
            self.main.copy(&mut self.client, batch, &mut self.buffer)?;
        }
        if let Some(table) = &self.files {
            for f in files.iter().filter(|f| f.num_rows() > 0) {
                table.copy(&mut self.client, &Self::stamped(f)?, &mut self.buffer)?;
            }
        }
        if self.key != Key::None {
            self.commit()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), crate::Error> {
        Ok(self.commit()?)
    }

    fn describe(&self) -> String {
        format!("postgres table {}", self.main.name())
    }
}

impl Drop for PgSink {
    fn drop(&mut self) {
        if self.in_transaction {
            // Closing the connection rolls back too; this says so at once.
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::ArrayRef;

    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgresql://me:secret@db.example/cat"),
            "postgresql://me:***@db.example/cat"
        );
        assert_eq!(
            redact("host=/tmp user=me password=secret dbname=x"),
            "host=/tmp user=me password=*** dbname=x"
        );
        assert_eq!(redact("postgresql://me@db/cat"), "postgresql://me@db/cat");
    }

    #[test]
    fn binary_copy_layout() {
        let batch = RecordBatch::try_from_iter([
            (
                "a",
                std::sync::Arc::new(arrow_array::UInt16Array::from(vec![Some(7), None]))
                    as ArrayRef,
            ),
            (
                "b",
                std::sync::Arc::new(arrow_array::StringArray::from(vec!["x", "yz"])) as ArrayRef,
            ),
        ])
        .expect("batch");
        let mut out = Vec::new();
        encode(&batch, &mut out).expect("encode");
        let mut want = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        want.extend([0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 1, b'x']);
        want.extend([0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, b'y', b'z']);
        want.extend([0xff, 0xff]);
        assert_eq!(out, want);
    }
}
