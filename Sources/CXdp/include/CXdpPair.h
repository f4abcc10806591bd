// CXdp: the forwarder's AF_XDP data path in C, over libxdp's xsk API. Each function wraps the
// libxdp/libc steps of one operation so that Swift never sees an xsk ring; errno values or text,
// nothing here prints, exits or retries (XdpSockets.swift chooses the mode, retries and words the
// errors). The XDP program the sockets need is CXdpProgram.h's part.
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
#ifndef CXDP_PAIR_H
#define CXDP_PAIR_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct cxdp_pair cxdp_pair;  // opaque

enum {
    CXDP_MODE_GENERIC = 1,    // XDP_FLAGS_SKB_MODE, copy
    CXDP_MODE_NATIVE = 2,     // XDP_FLAGS_DRV_MODE
};

typedef struct {
    int zero_copy;            // 1: XDP_ZEROCOPY (native only); 0: XDP_COPY
    uint32_t queue;           // the queue id on both interfaces
    uint32_t ring_size;       // every ring and every partition; a power of two >= 64, 0 = 1024
    uint32_t frame_size;      // 2048 or 4096, 0 = 2048
} cxdp_options;

// The UMEM and its four partitions, no socket yet: 0 with *pair, or an errno value: EINVAL (ring
// or frame size out of range), ENOMEM (the memory; *registering 0), or xsk_umem__create's
// (*registering 1; ENOBUFS or ENOMEM there is RLIMIT_MEMLOCK).
int cxdp_open_umem(const cxdp_options *opts, cxdp_pair **pair, int *registering);
// Side's socket (0, then 1) on ifname, sharing the UMEM: one xsk_socket__create_shared in `mode`
// (CXDP_MODE_*), which attaches libxdp's program when the interface has none. On success the
// side's RX partition goes into its fill ring. 0, or -errno: EBUSY while the kernel still frees a
// previous socket's buffer pool (from a workqueue) or another socket has the queue;
// EOPNOTSUPP/EINVAL, a mode or zero-copy the driver refuses; EPERM; ENETDOWN...
int cxdp_bind(cxdp_pair *p, int side, const char *ifname, int mode);

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
// deletes the sockets and the UMEM. NULL is fine, and so is a pair whose second bind failed (it
// is freed; *final zero). The programs stay (CXdpProgram.h).
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

// The socket options of kernel busy polling (Linux 5.11+ for the last two).
enum {
    CXDP_BUSY_POLL = 1,           // SO_BUSY_POLL: microseconds a blocking call polls the device
    CXDP_PREFER_BUSY_POLL = 2,    // SO_PREFER_BUSY_POLL: the device's softirq defers to the socket's polling
    CXDP_BUSY_POLL_BUDGET = 3,    // SO_BUSY_POLL_BUDGET: frames per busy-poll round
};
// Sets one of them on side's socket: 0, or the errno of setsockopt (ENOPROTOOPT: the kernel has
// no such option; EPERM: raising it above the sysctl needs CAP_NET_ADMIN).
int cxdp_set_busy_poll_option(cxdp_pair *p, int side, int option, int value);
// 1: cxdp_rx_frames calls recvfrom on every empty poll of side (with busy polling on, that
// call is where the kernel polls the device); 0 (the default): when need_wakeup asks, and
// every 8th empty poll.
void cxdp_set_wake_when_empty(cxdp_pair *p, int side, int on);

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

#ifdef __cplusplus
}
#endif
#endif
