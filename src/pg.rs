//! Arrow record batches into PostgreSQL tables, through `COPY … FROM STDIN (FORMAT binary)`.
//!
//! [`PgTable::create`] makes a table (if missing) whose columns follow an Arrow schema;
//! [`PgTable::copy`] appends a batch in PostgreSQL's binary COPY format, inside whatever
//! transaction the caller holds — so a caller decides how much one interruption can lose (the
//! MIDI command commits the notes and the `files` rows of each job together). Types:
//!
//! | Arrow | PostgreSQL |
//! |---|---|
//! | Int8, UInt8, Int16 | `smallint` |
//! | UInt16, Int32 | `integer` |
//! | UInt32, Int64, UInt64 (values past 2⁶³ − 1 are an error) | `bigint` |
//! | Float32, Float64 | `real`, `double precision` |
//! | Boolean | `boolean` |
//! | Utf8, LargeUtf8, Dictionary(_, Utf8) | `text` |
//! | List<UInt8> | `smallint[]` |
//!
//! Arrow nulls are SQL NULLs; column names are quoted as given.

use std::fmt;
use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

/// A PostgreSQL sink failure: what was being done, and the server's or the network's cause.
#[derive(Debug)]
pub struct Error {
    message: String,
    source: Option<postgres::Error>,
}

impl Error {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    fn pg(message: impl Into<String>, e: postgres::Error) -> Self {
        Self {
            message: message.into(),
            source: Some(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            // The server's own message (and detail) is what a user needs to see.
            Some(e) => match e.as_db_error() {
                Some(db) => write!(f, "postgres: {}: {}", self.message, db.message()),
                None => {
                    write!(f, "postgres: {}: {e}", self.message)?;
                    // The cause (refused, no such socket, authentication) is further down.
                    let mut cause = std::error::Error::source(e);
                    while let Some(c) = cause {
                        write!(f, ": {c}")?;
                        cause = c.source();
                    }
                    Ok(())
                }
            },
            None => write!(f, "postgres: {}", self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Connects to `url` (`postgresql://user@host/db`, or `host=/run/postgresql user=me dbname=x`),
/// without TLS. The error names the URL without its password.
pub fn connect(url: &str) -> Result<postgres::Client, Error> {
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
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The PostgreSQL type of an Arrow column, `None` when there is no mapping.
pub fn pg_type(t: &DataType) -> Option<&'static str> {
    Some(match t {
        DataType::Int8 | DataType::UInt8 | DataType::Int16 => "smallint",
        DataType::UInt16 | DataType::Int32 => "integer",
        DataType::UInt32 | DataType::Int64 | DataType::UInt64 => "bigint",
        DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Boolean => "boolean",
        DataType::Utf8 | DataType::LargeUtf8 => "text",
        DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) => "text",
        DataType::List(f) if f.data_type() == &DataType::UInt8 => "smallint[]",
        _ => return None,
    })
}

/// A table whose columns are an Arrow schema's.
#[derive(Debug, Clone)]
pub struct PgTable {
    /// `"schema"."table"`, quoted.
    name: String,
    schema: SchemaRef,
    copy: String,
}

impl PgTable {
    /// Creates `pg_schema.table` (and the schema) unless they exist, with one column per field
    /// of `schema`. An existing table is used as it is: its columns must accept the batches.
    pub fn create(
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
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends `batch` (whose columns are the table's schema's) with one binary COPY; returns
    /// the rows written.
    pub fn copy(
        &self,
        client: &mut impl postgres::GenericClient,
        batch: &RecordBatch,
    ) -> Result<u64, Error> {
        if batch.num_columns() != self.schema.fields().len() {
            return Err(Error::new(format!(
                "{}: a batch of {} columns for a table of {}",
                self.name,
                batch.num_columns(),
                self.schema.fields().len()
            )));
        }
        let mut data = Vec::with_capacity(64 + batch.get_array_memory_size());
        encode(batch, &mut data).map_err(|m| Error::new(format!("{}: {m}", self.name)))?;
        let mut w = client
            .copy_in(self.copy.as_str())
            .map_err(|e| Error::pg(format!("COPY into {}", self.name), e))?;
        w.write_all(&data)
            .map_err(|e| Error::new(format!("COPY into {}: {e}", self.name)))?;
        w.finish()
            .map_err(|e| Error::pg(format!("COPY into {}", self.name), e))
    }
}

/// The binary COPY stream of `batch`: header, one tuple per row, trailer.
pub fn encode(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), String> {
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    let columns: Vec<Column<'_>> = batch
        .columns()
        .iter()
        .map(Column::new)
        .collect::<Result<_, _>>()?;
    let n = i16::try_from(columns.len()).map_err(|_| "more than 32,767 columns".to_string())?;
    for row in 0..batch.num_rows() {
        out.extend_from_slice(&n.to_be_bytes());
        for c in &columns {
            c.write(row, out)?;
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(())
}

/// A column resolved once to its value encoder.
enum Column<'a> {
    Int2(&'a ArrayRef, fn(&ArrayRef, usize) -> i16),
    Int4(&'a ArrayRef, fn(&ArrayRef, usize) -> i32),
    Int8(&'a ArrayRef, fn(&ArrayRef, usize) -> Result<i64, String>),
    Float4(&'a ArrayRef),
    Float8(&'a ArrayRef),
    Bool(&'a ArrayRef),
    Text(&'a ArrayRef),
    Dict(&'a ArrayRef),
    Int2Array(&'a ArrayRef),
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

impl<'a> Column<'a> {
    fn new(a: &'a ArrayRef) -> Result<Self, String> {
        Ok(match a.data_type() {
            DataType::Int8 => Self::Int2(a, |a, i| a.as_primitive::<Int8Type>().value(i).into()),
            DataType::UInt8 => Self::Int2(a, |a, i| a.as_primitive::<UInt8Type>().value(i).into()),
            DataType::Int16 => Self::Int2(a, |a, i| a.as_primitive::<Int16Type>().value(i)),
            DataType::UInt16 => {
                Self::Int4(a, |a, i| a.as_primitive::<UInt16Type>().value(i).into())
            }
            DataType::Int32 => Self::Int4(a, |a, i| a.as_primitive::<Int32Type>().value(i)),
            DataType::UInt32 => {
                Self::Int8(a, |a, i| Ok(a.as_primitive::<UInt32Type>().value(i).into()))
            }
            DataType::Int64 => Self::Int8(a, |a, i| Ok(a.as_primitive::<Int64Type>().value(i))),
            DataType::UInt64 => Self::Int8(a, |a, i| {
                let v = a.as_primitive::<UInt64Type>().value(i);
                i64::try_from(v).map_err(|_| format!("{v} does not fit a bigint"))
            }),
            DataType::Float32 => Self::Float4(a),
            DataType::Float64 => Self::Float8(a),
            DataType::Boolean => Self::Bool(a),
            DataType::Utf8 | DataType::LargeUtf8 => Self::Text(a),
            DataType::Dictionary(k, v)
                if **k == DataType::Int32 && matches!(**v, DataType::Utf8) =>
            {
                Self::Dict(a)
            }
            DataType::List(f) if f.data_type() == &DataType::UInt8 => Self::Int2Array(a),
            other => return Err(format!("no PostgreSQL encoding for {other}")),
        })
    }

    fn array(&self) -> &ArrayRef {
        match self {
            Self::Int2(a, _)
            | Self::Int4(a, _)
            | Self::Int8(a, _)
            | Self::Float4(a)
            | Self::Float8(a)
            | Self::Bool(a)
            | Self::Text(a)
            | Self::Dict(a)
            | Self::Int2Array(a) => a,
        }
    }

    fn write(&self, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
        if self.array().is_null(i) {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return Ok(());
        }
        match self {
            Self::Int2(a, f) => field(out, &f(a, i).to_be_bytes()),
            Self::Int4(a, f) => field(out, &f(a, i).to_be_bytes()),
            Self::Int8(a, f) => field(out, &f(a, i)?.to_be_bytes()),
            Self::Float4(a) => field(out, &a.as_primitive::<Float32Type>().value(i).to_be_bytes()),
            Self::Float8(a) => field(out, &a.as_primitive::<Float64Type>().value(i).to_be_bytes()),
            Self::Bool(a) => field(out, &[u8::from(a.as_boolean().value(i))]),
            Self::Text(a) => match a.data_type() {
                DataType::LargeUtf8 => field(out, a.as_string::<i64>().value(i).as_bytes()),
                _ => field(out, a.as_string::<i32>().value(i).as_bytes()),
            },
            Self::Dict(a) => {
                let d = a.as_dictionary::<Int32Type>();
                let k = d.keys().value(i);
                let values = d.values().as_string::<i32>();
                let k = usize::try_from(k).map_err(|_| format!("dictionary key {k}"))?;
                field(out, values.value(k).as_bytes());
            }
            Self::Int2Array(a) => {
                let list = a.as_list::<i32>();
                let items = list.value(i);
                let items = items.as_primitive::<UInt8Type>();
                let mut body = Vec::with_capacity(20 + 6 * items.len());
                let ndim = i32::from(!items.is_empty());
                body.extend_from_slice(&ndim.to_be_bytes());
                body.extend_from_slice(&0i32.to_be_bytes()); // no nulls
                body.extend_from_slice(&21i32.to_be_bytes()); // int2
                if ndim == 1 {
                    body.extend_from_slice(&(items.len() as i32).to_be_bytes());
                    body.extend_from_slice(&1i32.to_be_bytes()); // lower bound
                    for v in items.values() {
                        field(&mut body, &i16::from(*v).to_be_bytes());
                    }
                }
                field(out, &body);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
