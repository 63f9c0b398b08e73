/*
 * The native reference of the codec benchmark: liblz4 on the bench corpus, driven by
 * bench/codec.bench.ts through bench/native.ts. The bench sends one command per round and
 * times the round with the nanoseconds this program reports, so liblz4's rows are measured
 * like the WebAssembly ones, in the same run.
 *
 *   lz4 <pages> <blocks>          then, on stdin, one command per line:
 *     c    compress every page with LZ4_compress_default, each into its own lz4Bound slot;
 *          replies "<ns> <compressed bytes> <cpu ns>"
 *     d    decode every block with LZ4_decompress_safe into its 4 KiB page (checked against
 *          the page, outside the timed part); replies "<ns> <cpu ns>"
 *
 * <ns> is wall-clock time (CLOCK_MONOTONIC), as vitest times the other rows; <cpu ns> is the
 * process's CPU time over the same round, for comparisons on a busy machine.
 *
 *   pages    n * 4096 bytes: the corpus pages
 *   blocks   the same pages as LZ4 blocks (memvisor's): u32 LE n, n u32 LE sizes, the blocks
 *
 * Prints "ready <n>" once the files are loaded. Exit status 2 on bad arguments or input, 3 when
 * a block does not decode to its page; 0 at the end of stdin.
 */
#define _POSIX_C_SOURCE 199309L
#include <lz4.h>
#include <string.h>
#include "harness.h"

static uint32_t u32At(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  size_t plen = 0, blen = 0;
  unsigned char *pages = slurp(argv[1], &plen), *blk = slurp(argv[2], &blen);
  if (!pages || !blk || plen % PAGE || blen < 4) return 2;
  const uint32_t n = (uint32_t)(plen / PAGE);
  if (u32At(blk) != n || blen < 4 + 4 * (size_t)n) return 2;
  const char **blocks = malloc(sizeof(char *) * (n ? n : 1));
  int *sizes = malloc(sizeof(int) * (n ? n : 1));
  size_t at = 4 + 4 * (size_t)n;
  for (uint32_t i = 0; i < n; i++) {
    sizes[i] = (int)u32At(blk + 4 + 4 * (size_t)i);
    if (sizes[i] < 0 || at + (size_t)sizes[i] > blen) return 2;
    blocks[i] = (const char *)blk + at;
    at += (size_t)sizes[i];
  }
  const int bound = LZ4_compressBound(PAGE);
  char *slots = malloc((size_t)bound * n + 1), *out = malloc(plen + 1);
  if (!slots || !out) return 2;
  printf("ready %u\n", n);
  fflush(stdout);

  char cmd[64];
  while (fgets(cmd, sizeof cmd, stdin)) {
    if (cmd[0] == 'c') {
      uint64_t total = 0;
      const uint64_t t = nowNs(), c = cpuNs();
      for (uint32_t i = 0; i < n; i++) {
        total += (uint64_t)LZ4_compress_default((const char *)pages + (size_t)i * PAGE, slots + (size_t)i * bound, PAGE, bound);
      }
      const uint64_t dt = nowNs() - t, dc = cpuNs() - c;
      printf("%llu %llu %llu\n", (unsigned long long)dt, (unsigned long long)total, (unsigned long long)dc);
    } else if (cmd[0] == 'd') {
      int bad = 0;
      const uint64_t t = nowNs(), c = cpuNs();
      for (uint32_t i = 0; i < n; i++) bad |= LZ4_decompress_safe(blocks[i], out + (size_t)i * PAGE, sizes[i], PAGE) != PAGE;
      const uint64_t dt = nowNs() - t, dc = cpuNs() - c;
      if (bad || memcmp(out, pages, plen) != 0) return 3;
      printf("%llu %llu\n", (unsigned long long)dt, (unsigned long long)dc);
    } else {
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
