/*
 * Error strings for enum mm_error. Linked into the SDK library, so it runs
 * in every process: the host, the workers, the aggregator and the plugins.
 * The table is indexed by the negated code, which is why codes are only
 * ever appended.
 */
#include "mimamori/error.h"

#include <stddef.h>

static const char *const messages[] = {
        "success",                                       /* MM_OK */
        "out of memory",                                 /* MM_ERR_NOMEM */
        "invalid argument",                              /* MM_ERR_INVAL */
        "input/output error",                            /* MM_ERR_IO */
        "malformed input",                               /* MM_ERR_PARSE */
        "value out of range",                            /* MM_ERR_RANGE */
        "input truncated",                               /* MM_ERR_TRUNCATED */
        "not found",                                     /* MM_ERR_NOTFOUND */
        "incompatible plugin or API version",            /* MM_ERR_ABI */
        "try again later",                               /* MM_ERR_AGAIN */
        "buffer, table or spool full",                   /* MM_ERR_FULL */
        "input larger than the configured limit",        /* MM_ERR_TOOBIG */
        "not supported",                                 /* MM_ERR_UNSUPPORTED */
        "call not valid in the current state",           /* MM_ERR_STATE */
        "timed out",                                     /* MM_ERR_TIMEOUT */
        "refused for safety (permissions or ownership)", /* MM_ERR_PERM */
        "already exists",                                /* MM_ERR_EXISTS */
        "closed by the peer or source",                  /* MM_ERR_CLOSED */
        "invalid configuration",                         /* MM_ERR_CONFIG */
};

const char *
mm_strerror(int err)
{
	/* Compare before negating so that INT_MIN cannot overflow. */
	if (err > 0 || err < -(int)(sizeof(messages) / sizeof(messages[0]) - 1))
		return "unknown error";
	return messages[-err];
}
