/*
 * mimamori SDK: error codes.
 *
 * Every SDK and host function that can fail returns int: MM_OK (0) or one of
 * the negative codes below. The numbering is frozen: codes are only ever
 * appended, never renumbered, so a plugin built against an older SDK reads the
 * same meaning from the same number.
 */
#ifndef MIMAMORI_ERROR_H
#define MIMAMORI_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/** Return codes shared by the SDK, the host API and the host itself. */
enum mm_error {
	MM_OK = 0,
	MM_ERR_NOMEM = -1,        /**< out of memory */
	MM_ERR_INVAL = -2,        /**< invalid argument */
	MM_ERR_IO = -3,           /**< a system call failed; errno says more */
	MM_ERR_PARSE = -4,        /**< malformed input */
	MM_ERR_RANGE = -5,        /**< value out of its allowed range */
	MM_ERR_TRUNCATED = -6,    /**< input ends before its headers say it should */
	MM_ERR_NOTFOUND = -7,     /**< no such key, file, module or symbol */
	MM_ERR_ABI = -8,          /**< incompatible plugin or API version */
	MM_ERR_AGAIN = -9,        /**< try again later */
	MM_ERR_FULL = -10,        /**< a bounded buffer, table or spool is full */
	MM_ERR_TOOBIG = -11,      /**< input larger than the configured limit */
	MM_ERR_UNSUPPORTED = -12, /**< feature not supported here */
	MM_ERR_STATE = -13,       /**< call not valid in the current state */
	MM_ERR_TIMEOUT = -14,     /**< a deadline passed */
	MM_ERR_PERM = -15,        /**< refused for safety (permissions, ownership) */
	MM_ERR_EXISTS = -16,      /**< already exists (duplicate name, id) */
	MM_ERR_CLOSED = -17,      /**< peer or source closed */
	MM_ERR_CONFIG = -18       /**< configuration invalid */
};

/**
 * A short English description of an error code. Never returns NULL; the
 * string is static and must not be freed.
 */
const char *mm_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
