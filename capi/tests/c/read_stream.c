/*
 * Reads files through rawarrow's C ABI as a plain C consumer would, and prints what it found
 * for the Rust test to compare with samtools' text and the MIDI seeds:
 *
 *   read_stream bam PATH       rows, the sum of `flag`, the sum of `pos` (nulls as 0), the
 *                              first record's qname; the last batch is read again after the
 *                              stream was released (it must stay valid)
 *   read_stream bam-error PATH the open code, or the get_next errno, and the message
 *   read_stream midi PATH      rows of the notes table and of the files table
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawarrow.h"

static int find_column(struct ArrowSchema *schema, const char *name) {
  for (int64_t i = 0; i < schema->n_children; i++) {
    if (strcmp(schema->children[i]->name, name) == 0) return (int)i;
  }
  fprintf(stderr, "no column %s\n", name);
  exit(2);
}

/* Value i of a nullable primitive column (validity bitmap in buffers[0]). */
static int is_valid(const struct ArrowArray *a, int64_t i) {
  const uint8_t *bits = a->buffers[0];
  int64_t j = i + a->offset;
  return bits == NULL || (bits[j / 8] >> (j % 8)) & 1;
}

static uint64_t sum_flags(const struct ArrowArray *flag) {
  const uint16_t *v = (const uint16_t *)flag->buffers[1] + flag->offset;
  uint64_t s = 0;
  for (int64_t i = 0; i < flag->length; i++) s += v[i];
  return s;
}

static int bam(const char *path) {
  struct rawarrow_bam_options options;
  rawarrow_bam_options_init(&options);
  options.threads = 2;
  options.batch_rows = 1000;
  options.columns = "qname,flag,pos";
  struct ArrowArrayStream stream;
  char *error = NULL;
  const char *paths[] = {path};
  int rc = rawarrow_bam_open(paths, 1, &options, &stream, &error);
  if (rc != RAWARROW_OK) {
    fprintf(stderr, "open failed (%d): %s\n", rc, error);
    rawarrow_free_error(error);
    return 1;
  }
  struct ArrowSchema schema;
  if (stream.get_schema(&stream, &schema) != 0) return 1;
  int flag_col = find_column(&schema, "flag");
  int pos_col = find_column(&schema, "pos");
  int qname_col = find_column(&schema, "qname");
  if (strcmp(schema.children[flag_col]->format, "S") != 0) return 3;
  if (strcmp(schema.children[pos_col]->format, "i") != 0) return 3;

  int64_t rows = 0;
  uint64_t flags = 0;
  int64_t pos = 0;
  char first[256] = "";
  struct ArrowArray last = {0};
  uint64_t last_flags = 0;
  for (;;) {
    struct ArrowArray batch;
    rc = stream.get_next(&stream, &batch);
    if (rc != 0) {
      fprintf(stderr, "get_next: %d %s\n", rc, stream.get_last_error(&stream));
      return 1;
    }
    if (batch.release == NULL) break; /* end of stream */
    if (rows == 0) {
      const struct ArrowArray *q = batch.children[qname_col];
      const int32_t *offsets = (const int32_t *)q->buffers[1] + q->offset;
      const char *data = q->buffers[2];
      int len = offsets[1] - offsets[0];
      snprintf(first, sizeof first, "%.*s", len, data + offsets[0]);
    }
    rows += batch.length;
    flags += sum_flags(batch.children[flag_col]);
    const struct ArrowArray *p = batch.children[pos_col];
    const int32_t *pv = (const int32_t *)p->buffers[1] + p->offset;
    for (int64_t i = 0; i < p->length; i++) {
      if (is_valid(p, i)) pos += pv[i];
    }
    if (last.release != NULL) last.release(&last);
    last = batch; /* keep the last batch past the stream's release */
    last_flags = sum_flags(batch.children[flag_col]);
  }
  stream.release(&stream);
  /* The stream is gone; the batch still owns its buffers. */
  uint64_t again = last.release ? sum_flags(last.children[flag_col]) : 0;
  if (last.release != NULL) last.release(&last);
  schema.release(&schema);
  printf("rows %" PRId64 "\nflags %" PRIu64 "\npos %" PRId64 "\nfirst %s\n"
         "last_batch_flags %" PRIu64 " %" PRIu64 "\n",
         rows, flags, pos, first, last_flags, again);
  return 0;
}

/* Filters and a region pushed through the options: prints the rows and their FLAG sum. */
static int bam_select(const char *path, const char *region) {
  struct rawarrow_bam_options options;
  rawarrow_bam_options_init(&options);
  options.threads = 2;
  options.columns = "flag,mapq";
  options.min_mapq = 30;
  options.exclude_flags = 0x904;
  const char *regions[] = {region};
  options.regions = regions;
  options.n_regions = 1;
  struct ArrowArrayStream stream;
  char *error = NULL;
  const char *paths[] = {path};
  if (rawarrow_bam_open(paths, 1, &options, &stream, &error) != RAWARROW_OK) {
    fprintf(stderr, "open failed: %s\n", error);
    rawarrow_free_error(error);
    return 1;
  }
  int64_t rows = 0;
  uint64_t flags = 0;
  for (;;) {
    struct ArrowArray batch;
    if (stream.get_next(&stream, &batch) != 0) {
      fprintf(stderr, "get_next: %s\n", stream.get_last_error(&stream));
      return 1;
    }
    if (batch.release == NULL) break;
    rows += batch.length;
    flags += sum_flags(batch.children[0]);
    batch.release(&batch);
  }
  stream.release(&stream);
  printf("rows %" PRId64 "\nflags %" PRIu64 "\n", rows, flags);
  return 0;
}

static int bam_error(const char *path) {
  struct ArrowArrayStream stream;
  char *error = NULL;
  const char *paths[] = {path};
  int rc = rawarrow_bam_open(paths, 1, NULL, &stream, &error);
  if (rc != RAWARROW_OK) {
    printf("open %d %s\n", rc, error);
    rawarrow_free_error(error);
    return 0;
  }
  for (;;) {
    struct ArrowArray batch;
    rc = stream.get_next(&stream, &batch);
    if (rc != 0) {
      printf("get_next %s %s\n", rc == EIO ? "EIO" : rc == EINVAL ? "EINVAL" : "other",
             stream.get_last_error(&stream));
      break;
    }
    if (batch.release == NULL) {
      printf("no error\n");
      break;
    }
    batch.release(&batch);
  }
  stream.release(&stream);
  return 0;
}

static int64_t count_rows(const char *path, const char *table) {
  struct rawarrow_midi_options options;
  rawarrow_midi_options_init(&options);
  options.table = table;
  struct ArrowArrayStream stream;
  char *error = NULL;
  const char *paths[] = {path};
  int rc = rawarrow_midi_open(paths, 1, &options, &stream, &error);
  if (rc != RAWARROW_OK) {
    fprintf(stderr, "open failed (%d): %s\n", rc, error);
    rawarrow_free_error(error);
    exit(1);
  }
  int64_t rows = 0;
  for (;;) {
    struct ArrowArray batch;
    if (stream.get_next(&stream, &batch) != 0) exit(1);
    if (batch.release == NULL) break;
    rows += batch.length;
    batch.release(&batch);
  }
  stream.release(&stream);
  return rows;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "bam-select") == 0) return bam_select(argv[2], argv[3]);
  if (argc != 3) {
    fprintf(stderr, "usage: read_stream bam|bam-error|midi PATH | bam-select PATH REGION\n");
    return 2;
  }
  if (strcmp(rawarrow_version(), "") == 0) return 2;
  if (strcmp(argv[1], "bam") == 0) return bam(argv[2]);
  if (strcmp(argv[1], "bam-error") == 0) return bam_error(argv[2]);
  if (strcmp(argv[1], "midi") == 0) {
    printf("notes %" PRId64 "\nfiles %" PRId64 "\n", count_rows(argv[2], "notes"),
           count_rows(argv[2], "files"));
    return 0;
  }
  return 2;
}
