/*
 * `mimamori run`: the supervisor, and the in-process mode it offers.
 */
#ifndef MM_CORE_SUPERVISOR_H
#define MM_CORE_SUPERVISOR_H

int mm_run_main(int argc, char **argv);
/* --inproc: every enabled module in this process; run_for seconds (0: until
 * SIGTERM). */
int mm_inproc_main(double run_for);

#endif
