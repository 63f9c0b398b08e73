/*
 * The native reference of the hash benchmark: xxHash's own C code on the bench corpus, driven
 * by bench/hash.bench.ts and bench/paired.ts through bench/native.ts. xxhash.h (libxxhash-dev)
 * is inlined and built with gcc -O2 for baseline x86-64, as Debian builds libxxhash (XXH3 on
 * SSE2), and again as xxhash-avx2 with -mavx2 (XXH3 on AVX2) for a CPU that has it.
 *
 *   xxhash <pages>          then, on stdin, one command per line:
 *     64   XXH64(page, 4096, 0) of every page
 *     3    XXH3_64bits(page, 4096) of every page
 *     64c  the same hashes as 64 made the way memvisor's xxh64Pages makes them from JavaScript:
 *          each chunk of 64 pages copied into a staging buffer, then hashed two pages at a time
 *     3c   the same hashes as 3 made the same way: each chunk copied into the staging buffer,
 *          then hashed
 *   each replies "<ns> <sum hi> <sum lo> <cpu ns>": the round's wall-clock time, the sum of the
 *   page hashes mod 2^64 as two u32 (so the bench can check that it hashed what memvisor hashed),
 *   and the process's CPU time over the same round.
 *
 *   pages    n * 4096 bytes: the corpus pages, loaded into one page-aligned buffer
 *
 * The hashes go to an array of n u64 (as memvisor's batch forms write theirs), summed after
 * the timed part. Prints "ready <n>" once the pages are loaded. Exit status 2 on bad arguments,
 * input or command, 4 when built for AVX2 and the CPU has none; 0 at the end of stdin.
 */
#define _POSIX_C_SOURCE 199309L
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <string.h>
#include "harness.h"

/*
 * XXH64 of 4 KiB pages (seed 0), two pages at a time: not xxHash's code but the fastest
 * schedule of it we know. One XXH64 runs four chains of rotl(acc + lane * P2, 31) * P1, each
 * a round's latency deep (add, rotate, multiply); two pages keep eight chains in flight and
 * use the multipliers the single hash leaves idle (1.2x on pages in cache here). Over pages in
 * DRAM two neighbouring pages read at once run slower than one, so command 64c hashes them
 * from a staging buffer in L2 after a memcpy of 64 pages, as memvisor's xxh64Pages does with
 * its copy in: the whole of xxh64Pages' work done in C, what a WebAssembly version reaches
 * only by matching C.
 */
static inline uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
/** Pages per copy in, as memvisor's page batches (PAGES_CHUNK in src/engine/codec.ts). */
#define CHUNK 64
#define P1 XXH_PRIME64_1
#define P2 XXH_PRIME64_2
#define ROUND(acc, lane) ((acc) = rotl64((acc) + (lane) * P2, 31) * P1)
static inline uint64_t merge64(uint64_t h, uint64_t acc) { uint64_t r = 0; ROUND(r, acc); return (h ^ r) * P1 + XXH_PRIME64_4; }
static uint64_t finish64(uint64_t v1, uint64_t v2, uint64_t v3, uint64_t v4) {
  uint64_t h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
  h = merge64(merge64(merge64(merge64(h, v1), v2), v3), v4) + PAGE;
  h = (h ^ (h >> 33)) * P2;
  h = (h ^ (h >> 29)) * XXH_PRIME64_3;
  return h ^ (h >> 32);
}
static void xxh64TwoPages(const unsigned char *a, uint64_t *out) {
  const unsigned char *b = a + PAGE;
  uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1, w1 = v1, w2 = v2, w3 = v3, w4 = v4;
  for (size_t k = 0; k < PAGE; k += 32) {
    ROUND(v1, rd64(a + k)); ROUND(v2, rd64(a + k + 8)); ROUND(v3, rd64(a + k + 16)); ROUND(v4, rd64(a + k + 24));
    ROUND(w1, rd64(b + k)); ROUND(w2, rd64(b + k + 8)); ROUND(w3, rd64(b + k + 16)); ROUND(w4, rd64(b + k + 24));
  }
  out[0] = finish64(v1, v2, v3, v4);
  out[1] = finish64(w1, w2, w3, w4);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
#ifdef __AVX2__
  if (!__builtin_cpu_supports("avx2")) return 4; // built with -mavx2 for a CPU without it
#endif
  size_t len = 0;
  unsigned char *pages = slurp(argv[1], &len);
  if (!pages || len % PAGE) return 2;
  const uint32_t n = (uint32_t)(len / PAGE);
  uint64_t *hashes = malloc(sizeof(uint64_t) * n);
  unsigned char *staging = aligned_alloc(PAGE, (size_t)CHUNK * PAGE);
  if (!hashes || !staging) return 2;
  memset(staging, 0, (size_t)CHUNK * PAGE);
  printf("ready %u\n", n);
  fflush(stdout);

  char cmd[64];
  while (fgets(cmd, sizeof cmd, stdin)) {
    const int staged = strcmp(cmd, "64c\n") == 0 || strcmp(cmd, "3c\n") == 0;
    const int xxh3 = strcmp(cmd, "3\n") == 0 || strcmp(cmd, "3c\n") == 0;
    if (!xxh3 && !staged && strcmp(cmd, "64\n") != 0) return 2;
    const uint64_t t = nowNs(), c = cpuNs();
    if (staged) {
      for (uint32_t first = 0; first < n; first += CHUNK) {
        const uint32_t k = n - first < CHUNK ? n - first : CHUNK;
        memcpy(staging, pages + (size_t)first * PAGE, (size_t)k * PAGE);
        uint32_t i = 0;
        if (xxh3) {
          for (; i < k; i++) hashes[first + i] = XXH3_64bits(staging + (size_t)i * PAGE, PAGE);
        } else {
          for (; i + 1 < k; i += 2) xxh64TwoPages(staging + (size_t)i * PAGE, hashes + first + i);
          if (i < k) hashes[first + i] = XXH64(staging + (size_t)i * PAGE, PAGE, 0);
        }
      }
    } else if (xxh3) {
      for (uint32_t i = 0; i < n; i++) hashes[i] = XXH3_64bits(pages + (size_t)i * PAGE, PAGE);
    } else {
      for (uint32_t i = 0; i < n; i++) hashes[i] = XXH64(pages + (size_t)i * PAGE, PAGE, 0);
    }
    const uint64_t dt = nowNs() - t, dc = cpuNs() - c;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += hashes[i];
    printf("%llu %lu %lu %llu\n", (unsigned long long)dt, (unsigned long)(sum >> 32), (unsigned long)(sum & 0xFFFFFFFFu),
           (unsigned long long)dc);
    fflush(stdout);
  }
  return 0;
}
