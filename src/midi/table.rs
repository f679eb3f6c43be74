//! The `notes` and `files` tables (docs/SCHEMAS.md).
//!
//! `notes` batches are written column by column into one arena allocation per batch (sizes are
//! exact: the rows are known when the batch is built). `file` is a dictionary column whose
//! dictionary is every input path (sorted), the same array in every batch, so an IPC file holds
//! it once.

use std::sync::{Arc, OnceLock};

use arrow_array::builder::{ListBuilder, UInt8Builder};
use arrow_array::types::{Float64Type, Int32Type, UInt16Type, UInt64Type, UInt8Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, DictionaryArray, Float64Array, Int32Array,
    PrimitiveArray, RecordBatch, StringArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_buffer::BooleanBuffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::analysis::DRUM_CHANNEL;
use super::Music;
use crate::arrow::arena::{ArenaPool, ArenaSize};

fn file_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn programs_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::UInt8, false)))
}

/// The `notes` columns stored from [`NoteRow`]'s fields of the same names, in schema order,
/// with their Arrow types. The schema, the arena's size, the regions, the one fill loop over
/// the rows and the arrays are all generated from this list, so a column is added with one line
/// here (and its `NoteRow` field). `file` holds the key of a dictionary over every input path;
/// `is_drum` follows the stored columns (it is derived from `channel`).
macro_rules! note_columns {
    ($($name:ident: $ty:ty),* $(,)?) => {
        /// The stored columns' fields, in schema order.
        fn stored_fields() -> Vec<Field> {
            vec![$(Field::new(
                stringify!($name),
                if stringify!($name) == "file" { file_type() } else { <$ty>::DATA_TYPE },
                false,
            )),*]
        }

        /// The stored columns of one batch, filled in one pass over the rows.
        struct Stored {
            $($name: PrimitiveArray<$ty>,)*
        }

        impl Stored {
            fn lay_out(rows: &[NoteRow], arenas: &ArenaPool) -> Self {
                let n = rows.len();
                let mut size = ArenaSize::default();
                $(size.add::<<$ty as ArrowPrimitiveType>::Native>(n);)*
                let mut arena = arenas.arena(size);
                $(let mut $name = arena.take::<<$ty as ArrowPrimitiveType>::Native>(n);)*
                {
                    $(let $name = $name.as_mut_slice();)*
                    for (i, r) in rows.iter().enumerate() {
                        $($name[i] = r.$name;)*
                    }
                }
                Self {
                    $($name: PrimitiveArray::new($name.into_scalar_buffer(), None),)*
                }
            }

            /// The arrays in schema order; `file` as a dictionary over `paths`.
            fn arrays(self, paths: &ArrayRef) -> Vec<ArrayRef> {
                let mut out: Vec<ArrayRef> = Vec::new();
                $(
                    if stringify!($name) == "file" {
                        let keys = self.$name.as_any().downcast_ref::<Int32Array>()
                            .expect("file keys are Int32")
                            .clone();
                        // Keys index the dictionary of all inputs; the reader writes valid ones.
                        out.push(Arc::new(
                            DictionaryArray::<Int32Type>::try_new(keys, paths.clone())
                                .expect("file keys index the path dictionary"),
                        ));
                    } else {
                        out.push(Arc::new(self.$name));
                    }
                )*
                out
            }
        }
    };
}

note_columns! {
    file: Int32Type,
    track: UInt16Type,
    channel: UInt8Type,
    pitch: UInt8Type,
    velocity: UInt8Type,
    onset_tick: UInt64Type,
    offset_tick: UInt64Type,
    onset_s: Float64Type,
    duration_s: Float64Type,
    program: UInt8Type,
}

/// Schema of the `notes` table: one row per note. `program` is the General MIDI program of the
/// note's channel at its onset (see [`super::Note::program`]), `is_drum` whether it is on the
/// drum channel (channel 10).
pub fn notes_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut fields = stored_fields();
        fields.push(Field::new("is_drum", DataType::Boolean, false));
        Arc::new(Schema::new(fields))
    })
    .clone()
}

/// Schema of the `files` table: one row per input file. `format`, `ppq` (null for SMPTE
/// division), `tracks` and `duration_s` are null when `error` is set; `warnings` lists what was
/// odd (`; `-separated, each with its byte offset), null when nothing was. The musical columns
/// after them ([`super::analysis`]) are null for a file that could not be read, and where the
/// file has nothing to say (no pitched notes, no meta event).
pub fn files_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("file", file_type(), false),
            Field::new("format", DataType::UInt16, true),
            Field::new("ppq", DataType::UInt16, true),
            Field::new("tracks", DataType::UInt16, true),
            Field::new("notes", DataType::UInt64, false),
            Field::new("duration_s", DataType::Float64, true),
            Field::new("tempo_bpm_meta", DataType::Float64, true),
            Field::new("tempo_bpm_estimate", DataType::Float64, true),
            Field::new("error", DataType::Utf8, true),
            Field::new("warnings", DataType::Utf8, true),
            Field::new("key_estimate", DataType::Utf8, true),
            Field::new("key_confidence", DataType::Float64, true),
            Field::new("key_signature_meta", DataType::Utf8, true),
            Field::new("time_signature", DataType::Utf8, true),
            Field::new("time_signature_changes", DataType::UInt32, true),
            Field::new("programs", programs_type(), true),
            Field::new("has_drums", DataType::Boolean, true),
            Field::new("pitch_min", DataType::UInt8, true),
            Field::new("pitch_max", DataType::UInt8, true),
            Field::new("note_density", DataType::Float64, true),
            Field::new("max_polyphony", DataType::UInt32, true),
        ]))
    })
    .clone()
}

/// One note row, gathered per job before the columns are laid out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoteRow {
    pub(crate) file: i32,
    pub(crate) track: u16,
    pub(crate) channel: u8,
    pub(crate) pitch: u8,
    pub(crate) velocity: u8,
    pub(crate) onset_tick: u64,
    pub(crate) offset_tick: u64,
    pub(crate) onset_s: f64,
    pub(crate) duration_s: f64,
    pub(crate) program: u8,
}

/// One `files` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FileRow {
    pub(crate) file: i32,
    pub(crate) format: Option<u16>,
    pub(crate) ppq: Option<u16>,
    pub(crate) tracks: Option<u16>,
    pub(crate) notes: u64,
    pub(crate) duration_s: Option<f64>,
    pub(crate) tempo_bpm_meta: Option<f64>,
    pub(crate) tempo_bpm_estimate: Option<f64>,
    pub(crate) error: Option<String>,
    pub(crate) warnings: Option<String>,
    pub(crate) music: Option<super::Music>,
    pub(crate) note_density: Option<f64>,
}

/// Lays `rows` out as a `notes` batch in one arena allocation.
pub(crate) fn notes_batch(
    rows: &[NoteRow],
    dictionary: &ArrayRef,
    arenas: &ArenaPool,
) -> RecordBatch {
    let stored = Stored::lay_out(rows, arenas);
    // From the contiguous channel column (a compare per byte), not from the rows.
    let channels: &[u8] = stored.channel.values();
    let is_drum = BooleanBuffer::collect_bool(rows.len(), |i| channels[i] == DRUM_CHANNEL);
    let mut columns = stored.arrays(dictionary);
    columns.push(Arc::new(BooleanArray::new(is_drum, None)));
    RecordBatch::try_new(notes_schema(), columns).expect("columns match the notes schema")
}

/// The `files` table for `rows`.
pub(crate) fn files_batch(rows: &[FileRow], dictionary: &ArrayRef) -> RecordBatch {
    let keys = Int32Array::from_iter_values(rows.iter().map(|r| r.file));
    let file = DictionaryArray::<Int32Type>::try_new(keys, dictionary.clone())
        .expect("file keys index the path dictionary");
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(file),
        Arc::new(rows.iter().map(|r| r.format).collect::<UInt16Array>()),
        Arc::new(rows.iter().map(|r| r.ppq).collect::<UInt16Array>()),
        Arc::new(rows.iter().map(|r| r.tracks).collect::<UInt16Array>()),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.notes))),
        Arc::new(rows.iter().map(|r| r.duration_s).collect::<Float64Array>()),
        Arc::new(
            rows.iter()
                .map(|r| r.tempo_bpm_meta)
                .collect::<Float64Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.tempo_bpm_estimate)
                .collect::<Float64Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.error.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.warnings.as_deref())
                .collect::<StringArray>(),
        ),
    ];
    let music = |f: &dyn Fn(&Music) -> Option<_>| -> Vec<Option<_>> {
        rows.iter().map(|r| r.music.as_ref().and_then(f)).collect()
    };
    let key = music(&|m| m.key.map(|k| k.name().to_owned()));
    let confidence = rows
        .iter()
        .map(|r| r.music.and_then(|m| m.key).map(|k| k.correlation));
    let signature = music(&|m| m.key_signature.and_then(|k| k.name()).map(str::to_owned));
    let meter = music(&|m| m.time_signature.and_then(|t| t.name()));
    let mut programs = ListBuilder::new(UInt8Builder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::UInt8,
        false,
    )));
    for r in rows {
        match &r.music {
            Some(m) => {
                programs.values().extend(m.programs.iter().map(Some));
                programs.append(true);
            }
            None => programs.append(false),
        }
    }
    let range = |f: fn((u8, u8)) -> u8| -> UInt8Array {
        rows.iter()
            .map(|r| r.music.and_then(|m| m.pitch_range).map(f))
            .collect()
    };
    columns.extend([
        Arc::new(key.into_iter().collect::<StringArray>()) as ArrayRef,
        Arc::new(confidence.collect::<Float64Array>()),
        Arc::new(signature.into_iter().collect::<StringArray>()),
        Arc::new(meter.into_iter().collect::<StringArray>()),
        Arc::new(
            rows.iter()
                .map(|r| r.music.map(|m| m.time_signature_changes))
                .collect::<UInt32Array>(),
        ),
        Arc::new(programs.finish()),
        Arc::new(
            rows.iter()
                .map(|r| r.music.map(|m| m.has_drums))
                .collect::<BooleanArray>(),
        ),
        Arc::new(range(|r| r.0)),
        Arc::new(range(|r| r.1)),
        Arc::new(
            rows.iter()
                .map(|r| r.note_density)
                .collect::<Float64Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.music.map(|m| m.max_polyphony))
                .collect::<UInt32Array>(),
        ),
    ]);
    RecordBatch::try_new(files_schema(), columns).expect("columns match the files schema")
}
