/*
 * What the benchmarks' C programs share (the .c files beside it, driven through bench/native.ts):
 * their clocks and the loading of an input file. Each program includes it after its own
 * feature macros and library headers.
 */
#ifndef MEMVISOR_BENCH_HARNESS_H
#define MEMVISOR_BENCH_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGE 4096

/** Nanoseconds of `clock`: CLOCK_MONOTONIC (what the bench times with) or this process's CPU time. */
static uint64_t clockNs(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t nowNs(void) { return clockNs(CLOCK_MONOTONIC); }
static uint64_t cpuNs(void) { return clockNs(CLOCK_PROCESS_CPUTIME_ID); }

/** Reads the whole file at `path` into a page-aligned buffer (pages start on a page, as in a VM); NULL on failure or an empty file. */
static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = n > 0 ? aligned_alloc(PAGE, ((size_t)n + PAGE - 1) / PAGE * PAGE) : NULL;
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}

#endif
