// CXdp: the forwarder's AF_XDP port in C, over libxdp's xsk API (and libbpf for the queries).
// Each function wraps the libxdp/libbpf/libc steps of one operation so that Swift never sees
// an xsk ring; the style is CPcap's: status codes + text, nothing here prints or exits.
//
// One cxdp_pair per worker: one UMEM shared by an AF_XDP socket on each of the two interfaces
// (xsk_socket__create_shared, XDP_USE_NEED_WAKEUP). The UMEM's frames are split in four
// fixed partitions, one per (socket, direction), each owned by one thread:
//   socket s RX: frames cycle fill ring -> kernel -> RX ring -> copied out -> fill ring
//   socket s TX: frames cycle free stack -> TX ring -> kernel -> completion ring -> free stack
// Every frame has a state byte (rx-kernel, rx-user, tx-free, tx-kernel); every transition is
// checked, and a wrong one (a frame handed out twice, an address that is not ours) is counted
// as a violation instead of being used. cxdp_frame_census counts the states against the
// partitions' counters.
//
// Threading: side s's RX (cxdp_rx_burst) and side s's TX (cxdp_tx_burst) touch disjoint
// rings and partitions: one thread may receive on a side while another sends on it, as with
// cpcap. One receiver and one sender per side at a time; open/close/census must not race
// with anything.
//
// The XDP program is libxdp's default XSK redirect program (xsk_def_prog, loaded by
// xsk_socket__create_shared, possibly inside libxdp's dispatcher). libxdp leaves it attached
// when the sockets close: cxdp_release_interface detaches it. So that a crashed run's program
// can be told from someone else's, the shim writes a marker per interface
// (/run/forwarder/xdp/<netns inode>-<ifindex>: pid, process start time, program id) when it
// attaches; cxdp_prepare_interface removes an attached program only when the marker names
// that program and a process that no longer exists.
#ifndef CXDP_H
#define CXDP_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct cxdp_pair cxdp_pair;  // opaque

// Why a set-up failed. Closed: Swift switches over it exhaustively.
typedef enum __attribute__((enum_extensibility(closed))) cxdp_status {
    CXDP_OK = 0,
    CXDP_PERMISSION_DENIED,   // EPERM/EACCES: CAP_NET_RAW (socket), CAP_BPF + CAP_NET_ADMIN (program)
    CXDP_MEMLOCK,             // ENOBUFS/ENOMEM registering the UMEM: RLIMIT_MEMLOCK too low
    CXDP_NO_SUCH_DEVICE,      // no interface by that name
    CXDP_NO_SUCH_QUEUE,       // the queue id is not below the interface's RX queue count
    CXDP_PROGRAM_PRESENT,     // another XDP program is attached to the interface (text: which)
    CXDP_BUSY,                // EBUSY at bind for 2 s: the queue has another AF_XDP socket
    CXDP_MODE_UNSUPPORTED,    // native mode or zero-copy refused by the driver (EOPNOTSUPP...)
    CXDP_INTERFACE_DOWN,      // ENETDOWN
    CXDP_OTHER,               // anything else; the text says what
} cxdp_status;

enum {
    CXDP_MODE_AUTO = 0,       // native unless the driver is veth or refuses it; then generic
    CXDP_MODE_GENERIC = 1,    // XDP_FLAGS_SKB_MODE, copy
    CXDP_MODE_NATIVE = 2,     // XDP_FLAGS_DRV_MODE
};

typedef struct {
    int mode;                 // CXDP_MODE_*
    int zero_copy;            // 1: XDP_ZEROCOPY (native only); 0: XDP_COPY
    uint32_t queue;           // the queue id on both interfaces
    uint32_t ring_size;       // every ring and every partition; a power of two, 0 = 1024
    uint32_t frame_size;      // 2048 or 4096, 0 = 2048
} cxdp_options;

// Before any socket on `ifname`: 0 = nothing attached; a leftover of ours (see above) is
// detached first (*removed = its program id, else 0). CXDP_PROGRAM_PRESENT when another
// program is attached; CXDP_NO_SUCH_DEVICE.
cxdp_status cxdp_prepare_interface(const char *ifname, uint32_t *removed, char *err, size_t errlen);
// After every pair using `ifname` is closed: detaches the program this process attached
// (the marker says so) and removes the marker. 0, or -1 with text. Safe to call twice.
int cxdp_release_interface(const char *ifname, char *err, size_t errlen);
// The XDP program on `ifname`: 1 and its id (and name when the kernel says), 0 when none,
// -1 with text (no such interface).
int cxdp_attached_program(const char *ifname, uint32_t *prog_id, char *name, size_t namelen);
// The kernel driver's name (ETHTOOL_GDRVINFO) into buf; 0 or an errno value.
int cxdp_driver(const char *ifname, char *buf, size_t len);
// RX queues of the interface (sysfs queues/rx-*), or -1.
int cxdp_rx_queues(const char *ifname);

// The UMEM, its four partitions and the two sockets (side 0 on if0, side 1 on if1). On
// failure *failed_side is the interface the text is about (0, 1; -1 for neither); the text
// names no interface (the Swift side does).
cxdp_status cxdp_open_pair(const char *if0, const char *if1, const cxdp_options *opts, cxdp_pair **pair,
                           int *failed_side, char *err, size_t errlen);

// Frame accounting: per side, frames in each state; violations since open.
typedef struct {
    uint32_t total;           // frames in the UMEM = 4 * ring_size
    uint32_t per_partition;
    uint32_t rx_kernel[2];    // in the fill ring, in the kernel or in the RX ring
    uint32_t rx_user[2];      // taken off the RX ring, not yet given back (0 between calls)
    uint32_t tx_free[2];
    uint32_t tx_kernel[2];    // in the TX ring, being sent, or in the completion ring
    uint64_t violations;      // wrong transitions refused (double hand-out, foreign address)
} cxdp_census;

// Counts the state bytes and compares with the partitions' counters: 0 when every frame is
// in exactly one state of its own partition and each partition's states add up; -1 + text.
int cxdp_frame_census(const cxdp_pair *p, cxdp_census *out, char *err, size_t errlen);

// Reclaims TX completions (kicking the TX rings for up to timeout_ms until every frame sent
// has completed), takes the final census into *final (may be NULL), then deletes the
// sockets and the UMEM. NULL is fine. The programs stay: cxdp_release_interface.
void cxdp_close_pair(cxdp_pair *p, int timeout_ms, cxdp_census *final);

int cxdp_fd(const cxdp_pair *p, int side);     // the socket, for poll(); -1 if none
int cxdp_mode(const cxdp_pair *p, int side);   // CXDP_MODE_GENERIC or CXDP_MODE_NATIVE as attached
int cxdp_zero_copy(const cxdp_pair *p);

// Up to n frames off side's RX ring: frame i is copied to bufs[i] (at most caps[i] bytes),
// lens[i] = bytes copied, wirelens[i] = the frame's length; the UMEM frames go straight back
// to the fill ring (woken with recvfrom when it needs it, and every 8th empty call, which
// finds a socket the kernel unbound when its interface was deleted). Returns the count, or
// -1 + err (the interface is gone).
int cxdp_rx_burst(cxdp_pair *p, int side, int n, uint8_t *const *bufs, const uint32_t *caps,
                  uint32_t *lens, uint32_t *wirelens, char *err, size_t errlen);

// Reclaims completions, copies frames into free TX frames of side, submits them and kicks the
// TX ring with sendto() while the kernel needs it (need_wakeup) and has not taken everything.
// Returns frames queued (0..ret-1 are the kernel's now). ret < n: *err_no = EAGAIN (no free
// frame / ring full: frames sent earlier have not completed yet; retry later) or EMSGSIZE
// (frame ret is larger than a UMEM frame: drop it, go on with ret+1) or ENXIO (the interface
// is gone: every send fails from now on). ret == n: *err_no = 0.
int cxdp_tx_burst(cxdp_pair *p, int side, int n, const uint8_t *const *bufs, const uint32_t *lens, int *err_no);

// Tests only: 0 stops cxdp_tx_burst from kicking side's TX ring, so the ring fills up.
void cxdp_set_tx_kick(cxdp_pair *p, int side, int on);

typedef struct {
    uint64_t rx_frames;        // taken off the RX ring by cxdp_rx_burst
    uint64_t tx_frames;        // queued on the TX ring
    uint64_t tx_completed;
    uint64_t kick_errors;      // sendto failures other than EAGAIN/EBUSY/ENOBUFS
    // XDP_STATISTICS
    uint64_t rx_dropped;       // dropped by the kernel (RX ring full or no fill frame...)
    uint64_t rx_invalid_descs;
    uint64_t tx_invalid_descs;
    uint64_t rx_ring_full;
    uint64_t rx_fill_ring_empty;
    uint64_t tx_ring_empty;
} cxdp_counters;

// Side's counters. 0, or -1 + text (the XDP_STATISTICS getsockopt failed).
int cxdp_stats(const cxdp_pair *p, int side, cxdp_counters *out, char *err, size_t errlen);

const char *cxdp_lib_version(void);  // "libxdp 1.3.1, libbpf 1.1"

#ifdef __cplusplus
}
#endif
#endif
