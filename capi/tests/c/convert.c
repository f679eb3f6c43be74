/* A small command over rawarrow's conversions, the way a C program uses them:
 *
 *   convert bam|tdf|midi OUTPUT [--postgres URL] [--table T] [--pg-table T] [--resume]
 *           [--tag T] [--files PATH] [--batch-rows N] [--stop-after N] INPUT...
 *
 * OUTPUT is a file path, or "-" with --postgres. Prints "rc N", then "rows N batches N" on
 * success or "error MESSAGE" on failure, "warnings ..." when there are any, and "calls N": how
 * many times the progress callback ran. --stop-after N makes the callback ask for a stop on
 * its Nth call. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawarrow.h"

struct counter {
  uint64_t calls;
  uint64_t stop_after;
  uint64_t last_done;
  int backwards;
};

static int progress(void *context, uint64_t rows, uint64_t done, uint64_t total,
                    const char *unit) {
  struct counter *c = context;
  (void)rows;
  c->calls += 1;
  if (done < c->last_done || (total != 0 && done > total) || unit == NULL || unit[0] == 0)
    c->backwards = 1;
  c->last_done = done;
  return c->stop_after != 0 && c->calls >= c->stop_after;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: convert bam|tdf|midi OUTPUT [options] INPUT...\n");
    return 2;
  }
  const char *format = argv[1];
  struct rawarrow_output out;
  rawarrow_output_init(&out);
  struct counter counter = {0, 0, 0, 0};
  out.progress = progress;
  out.context = &counter;
  if (strcmp(argv[2], "-") != 0) out.path = argv[2];
  const char *table = NULL, *tag = NULL;
  uint32_t batch_rows = 0;
  const char *inputs[64];
  size_t n = 0;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--postgres") == 0 && i + 1 < argc) {
      out.postgres = argv[++i];
    } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
      table = argv[++i];
    } else if (strcmp(argv[i], "--pg-table") == 0 && i + 1 < argc) {
      out.pg_table = argv[++i];
    } else if (strcmp(argv[i], "--resume") == 0) {
      out.resume = 1;
    } else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc) {
      tag = argv[++i];
    } else if (strcmp(argv[i], "--files") == 0 && i + 1 < argc) {
      out.files = argv[++i];
    } else if (strcmp(argv[i], "--batch-rows") == 0 && i + 1 < argc) {
      batch_rows = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--stop-after") == 0 && i + 1 < argc) {
      counter.stop_after = strtoull(argv[++i], NULL, 10);
    } else if (n < 64) {
      inputs[n++] = argv[i];
    }
  }
  struct rawarrow_summary summary;
  memset(&summary, 0, sizeof summary);
  char *error = NULL;
  int rc;
  if (strcmp(format, "bam") == 0) {
    struct rawarrow_bam_options o;
    rawarrow_bam_options_init(&o);
    o.threads = 2;
    o.tags = tag;
    o.batch_rows = batch_rows;
    rc = rawarrow_bam_convert(inputs, n, &o, &out, &summary, &error);
  } else if (strcmp(format, "tdf") == 0) {
    struct rawarrow_tdf_options o;
    rawarrow_tdf_options_init(&o);
    o.threads = 2;
    o.table = table;
    o.batch_rows = batch_rows;
    rc = rawarrow_tdf_convert(n > 0 ? inputs[0] : NULL, &o, &out, &summary, &error);
  } else if (strcmp(format, "midi") == 0) {
    struct rawarrow_midi_options o;
    rawarrow_midi_options_init(&o);
    o.threads = 2;
    o.table = table;
    rc = rawarrow_midi_convert(inputs, n, &o, &out, &summary, &error);
  } else {
    fprintf(stderr, "unknown format %s\n", format);
    return 2;
  }
  printf("rc %d\n", rc);
  if (rc == RAWARROW_OK) {
    printf("rows %" PRIu64 " batches %" PRIu64 "\n", summary.rows, summary.batches);
    if (summary.warnings != NULL) printf("warnings %s\n", summary.warnings);
    rawarrow_free_error(summary.warnings);
  } else {
    printf("error %s\n", error != NULL ? error : "(none)");
  }
  rawarrow_free_error(error);
  printf("calls %" PRIu64 "\n", counter.calls);
  if (counter.backwards) printf("progress went backwards or past its total\n");
  return 0;
}
