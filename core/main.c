/*
 * mimamori: one executable for every role (supervisor, worker, aggregator,
 * operator commands); see cli.c.
 */
#include "cli.h"

int
main(int argc, char **argv)
{
	return mm_cli_main(argc, argv);
}
