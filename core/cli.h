/*
 * The command line: one executable, subcommands.
 */
#ifndef MM_CORE_CLI_H
#define MM_CORE_CLI_H

int mm_cli_main(int argc, char **argv);

#endif
