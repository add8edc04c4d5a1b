/*
 * CRC-32 (IEEE 802.3, reflected; zlib's crc32()) of the spool's records.
 */
#ifndef MM_CORE_AGG_CRC32_H
#define MM_CORE_AGG_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (a finished CRC-32, 0 to start) over n bytes. Uses carry-less
 * multiplication where the processor has it. */
uint32_t mm_crc32(uint32_t crc, const void *data, size_t n);

/* The same by table lookups only: for tests and benchmarks. */
uint32_t mm_crc32_table(uint32_t crc, const void *data, size_t n);

/* 1 when mm_crc32() folds with carry-less multiplication here. */
int mm_crc32_accelerated(void);

#endif
