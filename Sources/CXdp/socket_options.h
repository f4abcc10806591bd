// Socket options of kernels newer than the C library's headers (Linux 5.11: busy polling that
// AF_XDP sockets prefer, and its budget).
#ifndef CXDP_SOCKET_OPTIONS_H
#define CXDP_SOCKET_OPTIONS_H
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif
#endif
