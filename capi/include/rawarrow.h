/*
 * rawarrow: BAM, Bruker timsTOF .d and Standard MIDI Files as Arrow C streams.
 *
 * Each open function fills a `struct ArrowArrayStream` (the Arrow C stream interface,
 * https://arrow.apache.org/docs/format/CStreamInterface.html) that yields record batches as
 * struct arrays. Batches are handed over without a copy: their buffers stay valid until the
 * consumer calls each batch's `release`, whether or not the stream was released before.
 *
 * Errors: an open function returns RAWARROW_OK or one of the RAWARROW_ERROR_* codes and, when
 * `error` is not NULL, stores a message naming the file, the byte offset and the cause, to be
 * freed with rawarrow_free_error. A failure while streaming is the stream's `get_next`
 * returning an errno value (EIO, EINVAL, ...), with the message from `get_last_error`.
 *
 * Options: initialise a struct with its rawarrow_*_options_init function (the defaults), then
 * change what you need; a NULL options pointer means the defaults. String options are
 * NUL-terminated UTF-8 and are copied; they need not outlive the call.
 *
 * Link: -lrawarrow_c (librawarrow_c.so), or the static librawarrow_c.a with
 * -lpthread -ldl -lm -lgcc_s -lrt.
 */
#ifndef RAWARROW_H
#define RAWARROW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The Arrow C data and stream interfaces, exactly as the Arrow specification defines them. */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  const char *format;
  const char *name;
  const char *metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema **children;
  struct ArrowSchema *dictionary;
  void (*release)(struct ArrowSchema *);
  void *private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void **buffers;
  struct ArrowArray **children;
  struct ArrowArray *dictionary;
  void (*release)(struct ArrowArray *);
  void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
  int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
  int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
  const char *(*get_last_error)(struct ArrowArrayStream *);
  void (*release)(struct ArrowArrayStream *);
  void *private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

/* Return codes of the open and convert functions. */
#define RAWARROW_OK 0
/* An option or argument makes no sense (unknown column, zero threads, NULL path, ...). */
#define RAWARROW_ERROR_USAGE 1
/* The operating system refused (missing file, a folder where a file was expected, ...). */
#define RAWARROW_ERROR_IO 2
/* The input is not what its format says it must be. */
#define RAWARROW_ERROR_FORMAT 3
/* A bug: a worker thread or the library failed. */
#define RAWARROW_ERROR_INTERNAL 4
/* A conversion's progress callback returned non-zero: nothing was left behind (a file output
   is not created; PostgreSQL keeps only what a resumable table committed). */
#define RAWARROW_ERROR_STOPPED 5

/* BAM options; the schema and the columns are those of the README ("BAM → Arrow"). */
struct rawarrow_bam_options {
  /* Threads in all, split between inflating and decoding (60/40, at least one each; 1 reads
     on the calling thread); 0: the cores this process may use. */
  uint32_t threads;
  /* Rows per batch; 0: 65,536. */
  uint32_t batch_rows;
  /* Stop after this many records of each input; UINT64_MAX: no limit. */
  uint64_t limit;
  /* Comma-separated columns to decode (e.g. "qname,flag,pos"); NULL: all. */
  const char *columns;
  /* Comma-separated typed tag columns, TAG or TAG:TYPE (e.g. "NM:i,XF"); NULL: none. */
  const char *tags;
  /* Only records with MAPQ >= min_mapq (samtools view -q; 255 passes); 0: all. */
  uint8_t min_mapq;
  /* Only records with all of these FLAG bits (samtools view -f); 0: all. */
  uint16_t require_flags;
  /* Only records with none of these FLAG bits (samtools view -F); 0: all. */
  uint16_t exclude_flags;
  /* n_regions regions in samtools' syntax ("chr1:1,000-2,000", "*"), read through the index
     beside each input; NULL and 0: the whole file. */
  const char *const *regions;
  size_t n_regions;
  /* The BAI or CSI index for the regions (one input only); NULL: IN.bam.bai, IN.bai,
     IN.bam.csi or IN.csi. */
  const char *index;
  /* Only the records that begin in BGZF blocks at compressed offsets
     byte_range_start..byte_range_end (one input only: a split of a file); both 0: all. */
  uint64_t byte_range_start;
  uint64_t byte_range_end;
  /* Non-zero: add a `file` column (dictionary of the input paths) saying where each row came
     from. */
  uint8_t with_file;
  /* The reference FASTA of CRAM inputs whose bases are stored against one (its .fai beside
     it, else an index built in memory); NULL: none (BAM, and CRAM written with no_ref or
     embed_ref, need none; sequences are then looked up by MD5 in REF_CACHE/REF_PATH and by
     the @SQ line's UR, as htslib does). */
  const char *reference;
};

/* timsTOF options. */
struct rawarrow_tdf_options {
  uint32_t threads;
  /* Target rows per batch (whole frames); 0: 262,144. */
  uint32_t batch_rows;
  /* 1 or 2: only frames of that MS level; 0: all frames. */
  uint8_t ms_level;
  /* Only frames with ids in first_frame..=last_frame; both 0: all frames. */
  uint32_t first_frame;
  uint32_t last_frame;
  /* "auto" (default when NULL), "bruker" or "estimate". */
  const char *calibration;
  /* Comma-separated columns, kept in schema order; NULL: all. */
  const char *columns;
  /* "peaks", "precursors", "spectra" or "windows"; NULL: peaks (a conversion to MGF:
     spectra). */
  const char *table;
  /* Only frames (peaks) or precursors with retention time in [rt_low, rt_high] seconds;
     both NAN (the default): no limit. */
  double rt_low;
  double rt_high;
  /* Only scans (peaks) or precursors with 1/K0 in [mobility_low, mobility_high]; both NAN:
     no limit. */
  double mobility_low;
  double mobility_high;
  /* Only peaks or precursors with m/z in [mz_low, mz_high]; both NAN: no limit. */
  double mz_low;
  double mz_high;
  /* Spectra smoothed and centroided over this many TOF indices (timsrust's rule); 0: profile
     spectra as stored. */
  uint32_t centroid;
};

/* MIDI options. */
struct rawarrow_midi_options {
  uint32_t threads;
  /* Files per job and per notes batch; 0: 256. */
  uint32_t files_per_batch;
  /* "notes" (default when NULL) or "files". */
  const char *table;
  /* Onset detection: notes with velocity at or below this are ignored (default 0). */
  uint8_t velocity_threshold;
  /* Onset detection: notes within this many milliseconds of an onset join it (default 30). */
  double merge_window_ms;
  /* Key profile of files.key_estimate: "krumhansl" (default when NULL), "aarden" or
     "temperley". */
  const char *key_profile;
};

void rawarrow_bam_options_init(struct rawarrow_bam_options *options);
void rawarrow_tdf_options_init(struct rawarrow_tdf_options *options);
void rawarrow_midi_options_init(struct rawarrow_midi_options *options);

/* BAM files (n_paths >= 1, all with the same references) as one stream. */
int rawarrow_bam_open(const char *const *paths, size_t n_paths,
                      const struct rawarrow_bam_options *options,
                      struct ArrowArrayStream *out, char **error);

/* A timsTOF .d folder: one row per peak (or per precursor, spectrum or window: `table`). */
int rawarrow_tdf_open(const char *path, const struct rawarrow_tdf_options *options,
                      struct ArrowArrayStream *out, char **error);

/* MIDI files and folders (walked recursively), in sorted path order. */
int rawarrow_midi_open(const char *const *paths, size_t n_paths,
                       const struct rawarrow_midi_options *options,
                       struct ArrowArrayStream *out, char **error);

/* Where and how a conversion writes: a file or PostgreSQL tables (exactly one of path and
   postgres). Initialise with rawarrow_output_init (every field NULL or 0). */
struct rawarrow_output {
  /* The file: Arrow IPC file (.arrow), IPC stream (.arrows), Parquet (.parquet), MGF (.mgf,
     timsTOF spectra) or SAM text (.sam, BAM records), by its extension unless `format` says;
     "-": standard output. Written under a temporary name and renamed when complete: a failure
     leaves nothing. */
  const char *path;
  /* "ipc", "stream", "parquet", "mgf" or "sam"; NULL: from the path's extension. */
  const char *format;
  /* "none", "lz4" or "zstd"; NULL: none for IPC, zstd for Parquet. */
  const char *compression;
  /* A PostgreSQL connection URL ("postgresql://user@host/db" or "host=/run/postgresql
     dbname=x"): rows go in by binary COPY. */
  const char *postgres;
  /* The PostgreSQL schema (created if missing); NULL: public. */
  const char *schema;
  /* The table (created if missing, else appended to); NULL: the stream's own name (records,
     peaks, precursors, spectra, windows, notes and files). */
  const char *pg_table;
  /* Non-zero: continue after what an interrupted run committed (MIDI files already in the
     files table; timsTOF peaks after the table's last frame); other tables: a usage error. */
  uint8_t resume;
  /* MIDI notes: also write the files table (one row per file) to this path; NULL: no. */
  const char *files;
  /* Write run statistics (JSON: phases, CPU seconds, threads) here; NULL: none measured. */
  const char *stats;
  /* Called as the conversion goes with `context`, the rows written so far and `done` of
     `total` in `unit` ("bytes", "rows" or "files"); a non-zero return stops the conversion
     (RAWARROW_ERROR_STOPPED). NULL: no callback. */
  int (*progress)(void *context, uint64_t rows, uint64_t done, uint64_t total,
                  const char *unit);
  void *context;
};

/* What a conversion wrote. */
struct rawarrow_summary {
  /* Rows written (MIDI: notes; the files table's rows are not counted). */
  uint64_t rows;
  uint64_t batches;
  double seconds;
  /* Warnings (e.g. a BGZF file without its EOF marker), one per line, or NULL; free with
     rawarrow_free_error. */
  char *warnings;
};

void rawarrow_output_init(struct rawarrow_output *output);

/* The conversions: the readers' options as for the open functions, the worker threads of
   `options` also encoding the output. Return RAWARROW_OK or an error code with the message in
   *error (as the open functions); `summary` may be NULL. */
int rawarrow_bam_convert(const char *const *paths, size_t n_paths,
                         const struct rawarrow_bam_options *options,
                         const struct rawarrow_output *output,
                         struct rawarrow_summary *summary, char **error);
int rawarrow_tdf_convert(const char *path, const struct rawarrow_tdf_options *options,
                         const struct rawarrow_output *output,
                         struct rawarrow_summary *summary, char **error);
int rawarrow_midi_convert(const char *const *paths, size_t n_paths,
                          const struct rawarrow_midi_options *options,
                          const struct rawarrow_output *output,
                          struct rawarrow_summary *summary, char **error);

/* Frees a message stored by an open or convert function, or a summary's warnings (NULL is
   allowed). */
void rawarrow_free_error(char *error);

/* The library version, e.g. "0.1.0" (static storage). */
const char *rawarrow_version(void);

#ifdef __cplusplus
}
#endif

#endif /* RAWARROW_H */
