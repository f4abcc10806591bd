// CPcap: the forwarder's libpcap port in C. Each function wraps one libpcap step so that Swift
// never sees a pcap_t; the netdev facts libpcap lacks live in CLinux.
//
// Errors: cpcap_open returns a cpcap_status (what Swift chooses its message by) and writes
// libpcap's text into a caller buffer; the other calls return -1 with text, or an errno value.
// cpcap adds no interface name to a text (the Swift side does). Nothing here exits or prints.
//
// Threading: one thread may receive on a port (rx_burst, stats) while another sends on it
// (tx_burst): sending only uses the socket fd, or the TX ring under its own lock. One
// receiver per port at a time; cpcap_close must not race with anything.
#ifndef CPCAP_H
#define CPCAP_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpcap_port cpcap_port;  // opaque

// Why an open failed, from libpcap's PCAP_ERROR_* codes and the checks cpcap_open adds.
// Closed: Swift switches over it exhaustively, so a new case is a compile error there.
typedef enum __attribute__((enum_extensibility(closed))) cpcap_status {
    CPCAP_OK = 0,
    CPCAP_PERMISSION_DENIED,   // PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED
    CPCAP_NO_SUCH_DEVICE,      // PCAP_ERROR_NO_SUCH_DEVICE, or a name no interface can have
    CPCAP_INTERFACE_DOWN,      // PCAP_ERROR_IFACE_NOT_UP (the kernel's ENETDOWN at bind)
    CPCAP_NOT_ETHERNET,        // activated, but the link-layer type is not DLT_EN10MB
    CPCAP_BAD_FILTER,          // pcap_compile refused the expression
    CPCAP_OTHER,               // anything else; the text says what
} cpcap_status;

typedef struct {
    int snaplen;          // bytes captured per frame; <= 0 means 65535
    int promisc;          // 1 = promiscuous
    int immediate;        // 1 = immediate mode: TPACKET_V2, each frame handed over at once
    int buffer_size;      // ring buffer bytes, 0 = libpcap default
    int timeout_ms;       // pcap timeout, used only when not immediate
    const char *filter;   // BPF expression or NULL; optimized, netmask unknown
} cpcap_options;

// pcap_create, the options, pcap_activate (warnings are ignored), a DLT_EN10MB check,
// pcap_setdirection(PCAP_D_IN) so the port never reads its own TX, pcap_setnonblock(1), the
// filter, and PACKET_IGNORE_OUTGOING when the kernel has it (failure ignored: the direction
// filter still holds). Timestamps stay libpcap's microseconds: nanoseconds measured ~3 %
// slower TCP. opts NULL = snaplen 65535, promisc, immediate.
// CPCAP_OK with *port set, or another status with *port NULL and the text in err.
cpcap_status cpcap_open(const char *ifname, const cpcap_options *opts, cpcap_port **port,
                        char *err, size_t errlen);
void cpcap_close(cpcap_port *p);  // NULL is fine
int cpcap_fd(const cpcap_port *p);  // pcap_get_selectable_fd, for poll() POLLIN; -1 if closed

// Up to n frames without blocking (pcap_dispatch with a C callback). Frame i is copied to
// bufs[i] (at most caps[i] bytes, longer frames truncated), lens[i] = bytes copied,
// wirelens[i] = length on the wire; wirelens may be NULL. VLAN tags the kernel moved to
// metadata are back inline (libpcap does it). Returns the count (0 if none) or -1 + err.
int cpcap_rx_burst(cpcap_port *p, int n, uint8_t *const *bufs, const uint32_t *caps,
                   uint32_t *lens, uint32_t *wirelens, char *err, size_t errlen);

// sendmmsg(MSG_DONTWAIT) on the bound PF_PACKET socket: one syscall normally; after a partial
// send it goes on with the rest until done or a call fails, so the failing frame's errno is
// known. With a TX ring (cpcap_enable_tx_ring) the burst is copied into free slots and sent
// with one send(); a full ring (slots still in flight, e.g. held by a qdisc) is EAGAIN for
// the first frame without a slot; a frame over the slot or the MTU is EMSGSIZE. Returns frames sent (0..ret-1 went out), >= 0. ret < n: *err_no = errno for frame
// ret (EAGAIN/ENOBUFS retry later; EMSGSIZE drop frame ret, go on with ret+1; ENETDOWN/ENXIO
// link down/gone). ret == n: *err_no = 0.
int cpcap_tx_burst(cpcap_port *p, int n, const uint8_t *const *bufs, const uint32_t *lens, int *err_no);

// ---------------------------------------------------------------------------------------
// The leaner kernel path: options on the activated socket, and a TX ring of cpcap's own.
// Each returns 0 or an errno value; call them after cpcap_open, before any traffic, from the
// thread that opened the port.

// PACKET_FANOUT types and flags (the kernel's values; the shim passes them through).
enum {
    CPCAP_FANOUT_HASH = 0,            // the flow hash: both directions of a flow pick one socket
    CPCAP_FANOUT_CPU = 2,             // the CPU the frame arrived on
    CPCAP_FANOUT_CBPF = 6,            // a classic BPF program returns the index
    CPCAP_FANOUT_FLAG_ROLLOVER = 0x1000,  // spill to another member when one's ring is full
    CPCAP_FANOUT_FLAG_DEFRAG = 0x8000,    // reassemble IPv4 before choosing
};

// Joins the port's socket to fanout group `group` of its network namespace. The socket must
// be bound and its ring set up (cpcap_open has done both). cpcap always adds
// PACKET_FANOUT_FLAG_IGNORE_OUTGOING: a group has one receive hook of its own, and the
// socket's PACKET_IGNORE_OUTGOING no longer applies once it has joined. Every member must
// pass the same type and flags. Errors: EINVAL (the group exists with another type or flags,
// or on another interface; or a kernel without fanout), EALREADY (this socket is a member
// already), ENOSPC (the group has its 256 members), ENOMEM.
int cpcap_join_fanout(cpcap_port *p, uint16_t group, int type, int flags);

// One classic BPF instruction: the layout of the kernel's struct sock_filter.
typedef struct {
    uint16_t code;
    uint8_t jt;
    uint8_t jf;
    uint32_t k;
} cpcap_bpf_insn;

// The program of a CPCAP_FANOUT_CBPF group (PACKET_FANOUT_DATA): it returns the member's
// index, modulo the member count. One program per group: the last member to set it wins, and
// until then every frame goes to member 0. EINVAL if the socket is not in a CBPF group or
// the kernel rejects the program.
int cpcap_set_fanout_program(cpcap_port *p, const cpcap_bpf_insn *insns, int count);

// PACKET_QDISC_BYPASS on the sending socket(s): the pcap socket, and the TX ring's socket
// if there is one (a ring set up later gets it too). Frames skip the qdisc (no queueing:
// a busy device drops) and taps on the interface (tcpdump) no longer see them.
int cpcap_set_qdisc_bypass(cpcap_port *p, int on);

// A TPACKET_V2 PACKET_TX_RING of `frames` slots on a second socket of cpcap's own, bound to
// the same interface with protocol 0 so that it never receives. A slot holds a frame of the
// interface's MTU + 18 (Ethernet and a VLAN tag); slot size is the next power of two.
// cpcap_tx_burst then sends through it. EINVAL for frames < 1; errors of socket, setsockopt
// (ENOPROTOOPT: no TX ring in this kernel), mmap, bind.
int cpcap_enable_tx_ring(cpcap_port *p, int frames);
int cpcap_has_tx_ring(const cpcap_port *p);  // 1 when cpcap_enable_tx_ring succeeded

// pcap_stats (libpcap's 32-bit counters, widened). 0 ok, -1 + err.
int cpcap_stats(cpcap_port *p, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop, char *err, size_t errlen);

// Compiles a BPF expression for Ethernet without a device (pcap_open_dead), so a bad
// expression is a usage error before any interface is touched. 0 ok; -1 with libpcap's text.
int cpcap_check_filter(const char *expr, int snaplen, char *err, size_t errlen);

// The same expression compiled for running in user space (AF_XDP has no socket filter): the
// program is libpcap's, run by its interpreter (bpf_filter), on frames as they are on the wire
// (VLAN tags inline, as pcap_open_dead compiles them). NULL with libpcap's text on failure.
typedef struct cpcap_filter cpcap_filter;  // opaque; read-only once compiled (any thread)
cpcap_filter *cpcap_filter_compile(const char *expr, int snaplen, char *err, size_t errlen);
// 1 when the frame (caplen bytes at data, wirelen on the wire) matches, else 0.
int cpcap_filter_match(const cpcap_filter *f, const uint8_t *data, uint32_t caplen, uint32_t wirelen);
void cpcap_filter_free(cpcap_filter *f);

const char *cpcap_lib_version(void);  // pcap_lib_version(): a static string

#ifdef __cplusplus
}
#endif
#endif
