#ifndef CPCAP_THREAD_H
#define CPCAP_THREAD_H

// Names the calling thread (shown by top -H, ps -L, perf); at most 15 characters are kept.
// 0 ok, else an errno value.
int cpcap_set_thread_name(const char *name);

#endif
