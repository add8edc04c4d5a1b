/*
 * Offline commands: replay a capture, scan mail files.
 */
#ifndef MM_CORE_REPLAY_H
#define MM_CORE_REPLAY_H

int mm_replay_main(int argc, char **argv);
int mm_scan_mail_main(int argc, char **argv);

#endif
