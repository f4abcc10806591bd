#ifndef CPCAP_FILTER_H
#define CPCAP_FILTER_H
#include <stddef.h>

// Compiles a BPF filter expression for Ethernet without opening a device (pcap_open_dead), so
// a bad expression is reported as a usage error before any interface is touched.
// 0 ok; -1 with pcap's own message in err.
int cpcap_check_filter(const char *expr, int snaplen, char *err, size_t errlen);

#endif
