// CXdp: the forwarder's AF_XDP port in C, over libxdp's xsk API (and libbpf for the queries).
// Each function wraps the libxdp/libbpf/libc steps of one operation so that Swift never sees
// an xsk ring; the style is CPcap's: status codes + text, nothing here prints or exits.
//
// One cxdp_pair per worker: one UMEM shared by an AF_XDP socket on each of the two interfaces
// (xsk_socket__create_shared, XDP_USE_NEED_WAKEUP), four rings per socket (fill, RX, TX,
// completion). The UMEM's frames are split in four fixed partitions: per socket an RX
// partition (the frames its fill ring lends the kernel) and a TX partition (copies):
//   RX partition of socket s: fill ring -> kernel -> RX ring -> a head (cxdp_rx_frames) ->
//     either the TX ring of either socket, no copy (cxdp_tx_burst) -> completion ring -> stash,
//     or given back (cxdp_recycle, a dropped frame) -> stash; the stash goes to s's fill ring
//     in bursts.
//   TX partition of socket s: free stack -> a copy of a head with a buffer of its own (a frame
//     the forwarder generated) -> s's TX ring -> completion ring -> free stack.
// Every frame has a state byte (rx-kernel, rx-held, rx-sending, rx-stash, tx-free, tx-kernel);
// every transition is checked, and a wrong one (a frame sent or given back twice, an address
// that is not ours) is counted as a violation instead of being used. cxdp_frame_census counts
// the states against the partitions' counters.
//
// Threading: every ring is single-producer/single-consumer, and a frame received on socket s
// is sent on socket s^1 (or on s itself) and completes there, so the thread that receives on
// socket s must be the thread that sends on socket s^1. With one thread per direction:
//   thread A (RX side 0 -> TX side 1): fill 0, RX 0, TX 1, completion 1, TX partition 1 and
//     the RX partition 0 frames wherever they are;
//   thread B (RX side 1 -> TX side 0): fill 1, RX 1, TX 0, completion 0, TX partition 0 and
//     the RX partition 1 frames.
// One thread may own everything (NAT: both sides, frames sent back out of their own side).
// cxdp_recycle is called by the thread holding the frames (the receiving side's thread).
// open/close/census must not race with anything.
//
// The XDP program is libxdp's default XSK redirect program (xsk_def_prog, loaded by
// xsk_socket__create_shared, possibly inside libxdp's dispatcher). libxdp leaves it attached
// when the sockets close: cxdp_release_interface detaches it. So that a crashed run's program
// can be told from someone else's, the shim writes a marker per interface
// (/run/forwarder/xdp/<netns inode>-<ifindex>: pid, process start time, program id) when it
// attaches; cxdp_prepare_interface removes an attached program only when the marker names
// that program and a process that no longer exists. A release guard (a privileged child, see
// XdpReleaseGuard.swift) detaches the owner's programs when the owner closes its pipe or dies,
// which the owner cannot do itself once it has dropped its capabilities (--user).
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
    uint32_t queue_count;     // pairs of this run on consecutive queues (one per worker); 0 = 1.
                              // Auto takes native on veth when > 1: generic mode on veth files
                              // a frame sent on the peer's TX queue q under RX queue q-1 (0 and 1
                              // both under 0), so the last queue gets nothing; native keeps q.
    uint32_t ring_size;       // every ring and every partition; a power of two, 0 = 1024
    uint32_t frame_size;      // 2048 or 4096, 0 = 2048
} cxdp_options;

// Before any socket on `ifname`: 0 = nothing attached; a leftover of ours (see above) is
// detached first (*removed = its program id, else 0). CXDP_PROGRAM_PRESENT when another
// program is attached; CXDP_NO_SUCH_DEVICE.
cxdp_status cxdp_prepare_interface(const char *ifname, uint32_t *removed, char *err, size_t errlen);
// After every pair using `ifname` is closed: detaches the program the owner (pid and start
// time: this process, or the forwarder a release guard watches) attached, when the marker
// names the owner and the program is still the one marked, and removes the marker; anything
// else is left alone. 0, or -1 with text. Safe to call twice.
int cxdp_release_interface(const char *ifname, int owner_pid, unsigned long long owner_start, char *err, size_t errlen);
// The start time of process `pid` (field 22 of /proc/<pid>/stat), 0 when unknown: with the
// pid it names one process (a reused pid has another start time).
unsigned long long cxdp_process_start(int pid);
// Starts the release guard: /proc/self/exe with argv, the read end of a new pipe on guard_fd
// and no other descriptor but 0-2 (0 and 1 on /dev/null), SIGINT/SIGTERM/SIGHUP/SIGPIPE blocked.
// *write_fd: the write end (O_CLOEXEC); closing it, or this process ending, is the guard's cue.
// 0, or an errno value.
int cxdp_spawn_release_guard(char *const argv[], int guard_fd, int *pid, int *write_fd);
// The guard's least privilege: keeps only what detaching needs (CAP_NET_ADMIN for the netlink
// detach, CAP_BPF and CAP_SYS_ADMIN for libxdp's look-up of its program by id) in the effective
// and permitted sets and the bounding set, clears the inheritable and ambient sets, and sets
// no_new_privs. 0, or an errno (the caller goes on: a guard with more is still a guard).
int cxdp_guard_limit_capabilities(void);
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

// Frame accounting: per side, the frames of its partitions in each state; violations since open.
typedef struct {
    uint32_t total;           // frames in the UMEM = 4 * ring_size
    uint32_t per_partition;
    uint32_t rx_kernel[2];    // in the fill ring, in the kernel or in the RX ring
    uint32_t rx_held[2];      // taken off the RX ring into a head, not yet sent or given back
    uint32_t rx_sending[2];   // on a TX ring (either socket's) or its completion ring, no copy
    uint32_t rx_stash[2];     // given back or completed, waiting for room in the fill ring
    uint32_t tx_free[2];
    uint32_t tx_kernel[2];    // in the TX ring, being sent, or in the completion ring
    uint64_t violations;      // wrong transitions refused (double hand-out, foreign address)
} cxdp_census;

// Counts the state bytes and compares with the partitions' counters: 0 when every frame is
// in exactly one state of its own partition and each partition's states add up; -1 + text.
int cxdp_frame_census(const cxdp_pair *p, cxdp_census *out, char *err, size_t errlen);

// Reclaims TX completions (kicking the TX rings for up to timeout_ms until every frame sent
// has completed), puts every RX frame given back into its fill ring, takes the final census
// into *final (may be NULL: rx_held > 0 there is a frame a head never gave back), then
// deletes the sockets and the UMEM. NULL is fine. The programs stay: cxdp_release_interface.
void cxdp_close_pair(cxdp_pair *p, int timeout_ms, cxdp_census *final);

int cxdp_fd(const cxdp_pair *p, int side);     // the socket, for poll(); -1 if none
int cxdp_mode(const cxdp_pair *p, int side);   // CXDP_MODE_GENERIC or CXDP_MODE_NATIVE as attached
int cxdp_zero_copy(const cxdp_pair *p);

// The UMEM's first byte and its frame size: frame f's bytes are at area + f.
uint8_t *cxdp_umem_area(const cxdp_pair *p);
uint32_t cxdp_frame_size(const cxdp_pair *p);

// Up to n frames off side's RX ring, without a copy: frame i is the UMEM frame at frames[i]
// (its first byte's address), its data starts offsets[i] bytes into it (the kernel's
// XDP_PACKET_HEADROOM, room for tags to push) and is lens[i] bytes long. The frames are the
// caller's (rx-held) until cxdp_tx_burst sends them or cxdp_recycle gives them back. Also takes
// the other socket's TX completions and kicks its TX ring (this thread sends there, and frames
// waiting in that ring must move even when nothing new is sent), and refills side's fill ring
// from its stash; wakes the kernel with recvfrom when the fill ring needs it, and every 8th
// empty call, which finds a socket the kernel unbound when its interface was deleted. Returns
// the count, or -1 + err (the interface is gone).
int cxdp_rx_frames(cxdp_pair *p, int side, int n, uint64_t *frames, uint32_t *offsets, uint32_t *lens,
                   char *err, size_t errlen);

// Gives n received frames back (dropped, or their head freed for any reason): each goes onto
// its socket's stash, for that fill ring at its next cxdp_rx_frames. A frame that is not
// rx-held is a violation and is ignored.
void cxdp_recycle(cxdp_pair *p, const uint64_t *frames, int n);
// cxdp_recycle for n frames received on side that --filter rejected, counted as filtered.
void cxdp_filter_out(cxdp_pair *p, int side, const uint64_t *frames, int n);

// frames[i] of cxdp_tx_burst for a frame with a buffer of its own (to be copied).
static const uint64_t CXDP_NO_FRAME = UINT64_MAX;

// Reclaims side's completions, queues frames on side's TX ring and kicks it with sendto()
// while the kernel needs it (need_wakeup) and has not taken everything. Frame i is either a
// received UMEM frame, frames[i] = the UMEM address of its first data byte (it goes as it is:
// no copy), or frames[i] = CXDP_NO_FRAME (or frames NULL): bufs[i] is copied into a free
// frame of side's TX partition. Returns frames queued (0..ret-1 are the kernel's now).
// ret < n: *err_no = EAGAIN (ring full or no free TX frame: frames sent earlier have not
// completed yet; frame ret and later stay the caller's: retry later or drop them) or EMSGSIZE
// (frame ret does not fit a UMEM frame: drop it, go on with ret+1) or EINVAL (frame ret is not
// a received frame the caller holds: a violation; drop it) or ENXIO (the interface is gone:
// every send fails from now on). ret == n: *err_no = 0.
int cxdp_tx_burst(cxdp_pair *p, int side, int n, const uint8_t *const *bufs, const uint64_t *frames,
                  const uint32_t *lens, int *err_no);

// Tests only: 0 stops cxdp_tx_burst from kicking side's TX ring, so the ring fills up.
void cxdp_set_tx_kick(cxdp_pair *p, int side, int on);

typedef struct {
    uint64_t rx_frames;        // taken off the RX ring by cxdp_rx_frames
    uint64_t tx_frames;        // queued on the TX ring
    uint64_t tx_copied;        // of which copied (heads with buffers of their own); the rest went without a copy
    uint64_t recycled;         // RX frames of this side given back by cxdp_recycle (drops, freed heads)
    uint64_t filtered;         // of rx_frames, rejected by the filter (cxdp_filter_out; also in recycled)
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
