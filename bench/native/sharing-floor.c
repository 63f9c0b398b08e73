/*
 * The native floor of a merging sharing pass: the least work a first pass over fresh pages
 * does, in C. Driven by bench/reclaim.bench.ts through bench/native.ts: the bench sends one
 * command per round and times the round with the nanoseconds this program reports.
 *
 *   sharing-floor <pages> <seed>     then, on stdin, one command per line:
 *     s    one pass in page order          replies "<ns> <merged> <cpu ns>"
 *     r    one pass in a random order      replies "<ns> <merged> <cpu ns>"
 *
 * <ns> is wall-clock time (CLOCK_MONOTONIC), as vitest times the other rows; <cpu ns> is the
 * process's CPU time over the same pass, for comparisons on a busy machine.
 *
 * A pass visits every page once, in page order or in a random order of the same kind as
 * memvisor's (a bijection of [0, 2^k): multiply by an odd number, add, xor-shift, multiply
 * again, mod 2^k; indices past the last page skipped; new constants every pass), and per page:
 *
 *   h = XXH3-64(page)                        (xxhash.h from libxxhash-dev, inlined)
 *   probe an open-addressing table of (u64 hash, u32 page) entries, linear probing from h
 *   on an equal hash: memcmp both pages in full; equal -> count a merge, next page
 *   no equal page: insert (h, page)
 *
 * The table (a power of two >= 2 entries per page, 16 bytes each) is cleared before each pass,
 * outside the timed part. Nothing is freed or remapped: a floor, not an implementation.
 * Prints "ready <n>" once the pages are loaded. Exit status 2 on bad arguments or input.
 */
#define _POSIX_C_SOURCE 199309L
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <string.h>
#include "harness.h"

typedef struct {
  uint64_t hash;
  uint32_t page;
  uint32_t used;
} Entry;

/** splitmix64: the constants of each random pass. */
static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  size_t len = 0;
  unsigned char *pages = slurp(argv[1], &len);
  if (!pages || len % PAGE) return 2;
  const uint32_t n = (uint32_t)(len / PAGE);
  uint64_t seed = strtoull(argv[2], NULL, 10);

  uint32_t bits = 0;
  while ((1ull << bits) < n) bits++;
  const uint32_t span = 1u << bits, m = span - 1, shift = bits / 2 > 1 ? bits / 2 : 1;
  uint32_t cap = 1024;
  while (cap < 2 * n) cap <<= 1;
  Entry *table = malloc(sizeof(Entry) * cap);
  if (!table) return 2;
  printf("ready %u\n", n);
  fflush(stdout);

  char cmd[64];
  while (fgets(cmd, sizeof cmd, stdin)) {
    const int random = cmd[0] == 'r';
    if (!random && cmd[0] != 's') return 2;
    memset(table, 0, sizeof(Entry) * cap);
    const uint32_t mul1 = (uint32_t)mix(&seed) | 1, mul2 = (uint32_t)mix(&seed) | 1, add1 = (uint32_t)mix(&seed);
    uint64_t merged = 0;
    const uint64_t t = nowNs(), c = cpuNs();
    for (uint32_t i = 0; i < (random ? span : n); i++) {
      uint32_t idx = i;
      if (random) {
        uint32_t x = (i * mul1 + add1) & m;
        x ^= x >> shift;
        idx = (x * mul2) & m;
        if (idx >= n) continue;
      }
      const unsigned char *p = pages + (size_t)idx * PAGE;
      const uint64_t h = XXH3_64bits(p, PAGE);
      for (uint32_t s = (uint32_t)(h ^ (h >> 32)) & (cap - 1);; s = (s + 1) & (cap - 1)) {
        Entry *e = &table[s];
        if (!e->used) {
          e->hash = h;
          e->page = idx;
          e->used = 1;
          break;
        }
        if (e->hash == h && memcmp(pages + (size_t)e->page * PAGE, p, PAGE) == 0) {
          merged++;
          break;
        }
      }
    }
    const uint64_t dt = nowNs() - t, dc = cpuNs() - c;
    printf("%llu %llu %llu\n", (unsigned long long)dt, (unsigned long long)merged, (unsigned long long)dc);
    fflush(stdout);
  }
  return 0;
}
