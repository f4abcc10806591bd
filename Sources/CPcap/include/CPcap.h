// CPcap: C shim over libpcap plus the Linux calls it lacks (sendmmsg, SIOCETHTOOL, ifreq).
// All functions are prefixed cpcap_, report errors as text into a caller buffer (or as an
// errno value), never exit, never print. libpcap types are not exposed.
// Threading: a port may be received from (rx_burst, stats) on one thread while another
// thread sends on it (tx_burst, inject): sending only uses the socket fd. One receiver per
// port at a time; cpcap_close must not race with anything.
#ifndef CPCAP_H
#define CPCAP_H
#include <stddef.h>
#include <stdint.h>
// CPcap.h is the module's umbrella header (named after the target): the target's other
// headers are visible to Swift only when included here.
#if defined(__has_include)
#if __has_include("CPcapFilter.h")
#include "CPcapFilter.h"
#endif
#if __has_include("CPcapThread.h")
#include "CPcapThread.h"
#endif
#endif
#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpcap_port cpcap_port;            // opaque
typedef struct {
    int snaplen;          // bytes captured per frame (e.g. 2048+); <= 0 means 65535
    int promisc;          // 1 = promiscuous
    int immediate;        // 1 = immediate mode (default; TPACKET_V2, no block latency)
    int buffer_size;      // ring buffer bytes, 0 = libpcap default
    int timeout_ms;       // pcap timeout when not immediate
    const char *filter;   // BPF expression or NULL; compiled with pcap_compile, optimize, netmask unknown
} cpcap_options;
// pcap_create + options + pcap_activate + pcap_setdirection(PCAP_D_IN) + pcap_setnonblock(1)
// + filter; requires DLT_EN10MB. Also asks for ns timestamps (falls back to us) and sets
// PACKET_IGNORE_OUTGOING when the kernel has it (failure ignored). opts NULL = snaplen 65535,
// promisc, immediate. NULL + err on failure, e.g. "eth9: No such device exists".
cpcap_port *cpcap_open(const char *ifname, const cpcap_options *opts, char *err, size_t errlen);
void cpcap_close(cpcap_port *p);                 // NULL is fine
int cpcap_fd(const cpcap_port *p);               // pcap_get_selectable_fd, for poll() POLLIN
// Up to n frames without blocking (pcap_dispatch, C callback). Frame i copied to bufs[i]
// (at most caps[i] bytes, longer frames truncated), lens[i] = bytes copied, wirelens[i] =
// pcap_pkthdr.len, ts_ns[i] = ns since the epoch; wirelens/ts_ns may be NULL. VLAN tags the
// kernel moved to metadata are back inline (libpcap). Returns count (0 if none) or -1 + err.
int cpcap_rx_burst(cpcap_port *p, int n, uint8_t *const *bufs, const uint32_t *caps,
                   uint32_t *lens, uint32_t *wirelens, uint64_t *ts_ns, char *err, size_t errlen);
// sendmmsg(MSG_DONTWAIT) on the bound PF_PACKET socket: one syscall normally; after a partial
// send it goes on with the rest until done or a call fails, so the failing frame's errno is
// known. Returns frames sent (0..ret-1 went out), >= 0. ret < n: *err_no = errno for frame
// ret (EAGAIN/ENOBUFS retry later; EMSGSIZE drop frame ret, go on with ret+1; ENETDOWN/ENXIO
// link down/gone). ret == n: *err_no = 0.
int cpcap_tx_burst(cpcap_port *p, int n, const uint8_t *const *bufs, const uint32_t *lens, int *err_no);
// One frame via pcap_inject (blocking send(): libpcap leaves the fd blocking). 0 / -1 + *err_no.
int cpcap_inject(cpcap_port *p, const uint8_t *buf, uint32_t len, int *err_no);
// pcap_stats (libpcap's 32-bit counters, widened). 0 ok, -1 + err.
int cpcap_stats(cpcap_port *p, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop, char *err, size_t errlen);
// iflink: /sys/class/net/NAME/iflink (= ifindex if no peer/lower device, -1 unreadable; a
// veth peer in another namespace has that namespace's index). driver: ETHTOOL_GDRVINFO
// ("veth", ...), "" without ethtool ops.
typedef struct {
    int ifindex; int iflink; uint8_t mac[6]; int mtu; int up; int running; char driver[32];
} cpcap_if_info;
int cpcap_if_info_get(const char *ifname, cpcap_if_info *out, char *err, size_t errlen);  // 0 ok, -1
// SIOCETHTOOL; each field 1 on, 0 off, -1 unknown. -1 only for a missing/invalid device.
typedef struct { int rx_csum, tx_csum, tso, gso, gro, lro, rx_vlan, tx_vlan; } cpcap_offloads;
int cpcap_offloads_get(const char *ifname, cpcap_offloads *out, char *err, size_t errlen);
// if_nameindex names separated by single spaces. Count, or -1 on failure or when buf is too
// small (buf then holds the names that fit).
int cpcap_list_interfaces(char *buf, size_t buflen);
int cpcap_if_name(int ifindex, char *name, size_t len);   // ifindex -> name, 0 ok / -1
const char *cpcap_lib_version(void);                       // static string

#ifdef __cplusplus
}
#endif
#endif
