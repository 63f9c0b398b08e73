/*
 * A pipe to the reference liblz4, for interoperability tests (test/support/liblz4.ts).
 *
 *   liblz4-harness c|d < records > results
 *   record: u32 LE n, u32 LE cap, n bytes
 *   result: i32 LE r (LZ4_compress_default / LZ4_decompress_safe), then r bytes when r > 0
 *
 * `c` compresses each record's bytes into at most cap bytes; `d` decodes each record as one
 * block into at most cap bytes. Exit status 2 on a malformed record stream.
 */
#include <lz4.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int readU32(uint32_t *v) {
  unsigned char b[4];
  if (fread(b, 1, 4, stdin) != 4) return 0;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "c") && strcmp(argv[1], "d"))) return 2;
  const int compress = argv[1][0] == 'c';
  uint32_t n, cap;
  while (readU32(&n)) {
    if (!readU32(&cap) || n > (1u << 30) || cap > (1u << 30)) return 2;
    char *src = malloc(n ? n : 1), *dst = malloc(cap ? cap : 1);
    if (!src || !dst || fread(src, 1, n, stdin) != n) return 2;
    int32_t r = compress ? LZ4_compress_default(src, dst, (int)n, (int)cap)
                         : LZ4_decompress_safe(src, dst, (int)n, (int)cap);
    unsigned char h[4] = { (unsigned char)r, (unsigned char)(r >> 8), (unsigned char)(r >> 16), (unsigned char)(r >> 24) };
    fwrite(h, 1, 4, stdout);
    if (r > 0) fwrite(dst, 1, (size_t)r, stdout);
    free(src);
    free(dst);
  }
  return fflush(stdout) == 0 ? 0 : 2;
}
