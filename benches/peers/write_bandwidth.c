/* How fast this machine can write memory: each thread fills its own buffers in turn with memset
 * (in 400 KB pieces, like a column per frame), 6.3 GB in all (the bytes of the timsTOF reader's
 * twelve columns for the generated 97 M-peak run).
 *
 *   gcc -O2 benches/peers/write_bandwidth.c -o /tmp/write_bandwidth -lpthread
 *   /tmp/write_bandwidth BYTES_PER_BUFFER BUFFERS_PER_THREAD THREADS
 *
 * e.g. `17000000 3 2` (batches of 262,144 rows, three per worker: out of the L3 cache) against
 * `6300000 2 2` (one frame per batch, two per worker: in it). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t size;
static long total;
static int buffers;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  (void)arg;
  char *b[64];
  for (int k = 0; k < buffers; k++) {
    b[k] = aligned_alloc(64, (size + 63) / 64 * 64);
    memset(b[k], 1, size);
  }
  for (long i = 0; i < total / (long)size; i++) {
    char *x = b[i % buffers];
    for (size_t j = 0; j < size; j += 400000)
      memset(x + j, (int)i, size - j < 400000 ? size - j : 400000);
  }
  for (int k = 0; k < buffers; k++) free(b[k]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s BYTES_PER_BUFFER BUFFERS_PER_THREAD THREADS\n", argv[0]);
    return 2;
  }
  size = strtoul(argv[1], NULL, 10);
  buffers = atoi(argv[2]);
  int threads = atoi(argv[3]);
  if (size == 0 || buffers < 1 || buffers > 64 || threads < 1 || threads > 64) return 2;
  total = 6300000000L / threads;
  pthread_t t[64];
  double s = now();
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, NULL);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double e = now() - s;
  printf("%d threads, %d x %zu-byte buffers each: 6.3 GB in %.0f ms = %.1f GB/s\n", threads,
         buffers, size, e * 1e3, 6.3 / e);
  return 0;
}
