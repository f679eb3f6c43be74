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
use crate::arrow::columns::{fields, Column, Type};

/// The `notes` columns stored from [`NoteRow`]'s fields of the same names, in schema order,
/// with their Arrow types. The schema, the arena's size, the regions, the one fill loop over
/// the rows and the arrays are all generated from this list, so a column is added with one line
/// here (and its `NoteRow` field). `file` holds the key of a dictionary over every input path;
/// `is_drum` follows the stored columns (it is derived from `channel`).
macro_rules! note_columns {
    ($($name:ident: $ty:ty = $store:ident),* $(,)?) => {
        /// The stored columns, in schema order.
        const STORED: [Column; [$(stringify!($name)),*].len()] =
            [$(Column::new(stringify!($name), Type::$store, false)),*];

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
    file: Int32Type = Names,
    track: UInt16Type = U16,
    channel: UInt8Type = U8,
    pitch: UInt8Type = U8,
    velocity: UInt8Type = U8,
    onset_tick: UInt64Type = U64,
    offset_tick: UInt64Type = U64,
    onset_s: Float64Type = F64,
    duration_s: Float64Type = F64,
    program: UInt8Type = U8,
}

/// The `notes` columns derived from the stored ones when a batch is finished.
const DERIVED: [Column; 1] = [Column::new("is_drum", Type::Bool, false)];

/// The `files` columns, in schema order.
const FILES: [Column; 21] = [
    Column::new("file", Type::Names, false),
    Column::new("format", Type::U16, true),
    Column::new("ppq", Type::U16, true),
    Column::new("tracks", Type::U16, true),
    Column::new("notes", Type::U64, false),
    Column::new("duration_s", Type::F64, true),
    Column::new("tempo_bpm_meta", Type::F64, true),
    Column::new("tempo_bpm_estimate", Type::F64, true),
    Column::new("error", Type::Utf8, true),
    Column::new("warnings", Type::Utf8, true),
    Column::new("key_estimate", Type::Utf8, true),
    Column::new("key_confidence", Type::F64, true),
    Column::new("key_signature_meta", Type::Utf8, true),
    Column::new("time_signature", Type::Utf8, true),
    Column::new("time_signature_changes", Type::U32, true),
    Column::new("programs", Type::ListU8, true),
    Column::new("has_drums", Type::Bool, true),
    Column::new("pitch_min", Type::U8, true),
    Column::new("pitch_max", Type::U8, true),
    Column::new("note_density", Type::F64, true),
    Column::new("max_polyphony", Type::U32, true),
];

/// Schema of the `notes` table: one row per note. `program` is the General MIDI program of the
/// note's channel at its onset (see [`super::Note::program`]), `is_drum` whether it is on the
/// drum channel (channel 10).
pub fn notes_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut all = fields(&STORED, |_| true);
        all.extend(fields(&DERIVED, |_| true));
        Arc::new(Schema::new(all))
    })
    .clone()
}

/// Schema of the `files` table: one row per input file. `format`, `ppq` (null for SMPTE
/// division), `tracks` and `duration_s` are null when `error` is set; `warnings` lists what was
/// odd (`; `-separated, each with its byte offset), null when nothing was. The musical columns
/// after them ([`super::analysis`]) are null for a file that could not be read, and where the
/// file has nothing to say (no pitched notes, no meta event).
pub(crate) fn files_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| Arc::new(Schema::new(fields(&FILES, |_| true))))
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
                programs.values().extend(m.programs.into_iter().map(Some));
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
