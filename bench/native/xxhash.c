/*
 * The native reference of the hash benchmark: xxHash's own C code on the bench corpus, driven
 * by bench/hash.bench.ts and bench/paired.ts through bench/native.ts. xxhash.h (libxxhash-dev)
 * is inlined and built with gcc -O2 for baseline x86-64, as Debian builds libxxhash (XXH3 on
 * SSE2), and again as xxhash-avx2 with -mavx2 (XXH3 on AVX2) for a CPU that has it.
 *
 *   xxhash <pages>          then, on stdin, one command per line:
 *     64   XXH64(page, 4096, 0) of every page
 *     3    XXH3_64bits(page, 4096) of every page
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
  if (!hashes) return 2;
  printf("ready %u\n", n);
  fflush(stdout);

  char cmd[64];
  while (fgets(cmd, sizeof cmd, stdin)) {
    const int xxh3 = strcmp(cmd, "3\n") == 0;
    if (!xxh3 && strcmp(cmd, "64\n") != 0) return 2;
    const uint64_t t = nowNs(), c = cpuNs();
    if (xxh3) {
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
