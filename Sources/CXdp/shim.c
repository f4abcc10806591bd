// CXdp: the AF_XDP data path (the UMEM, its sockets, rings and bursts). See include/CXdpPair.h.
#define _GNU_SOURCE
#include "CXdpPair.h"
#include "CLinux.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>
#include "socket_options.h"

// Frame states (one byte per frame). RX partition frames: kernel -> held (in a head) -> sending
// (on a TX ring, zero-copy) or stash (given back) -> kernel. TX partition frames (copies of
// heads with buffers of their own): free -> kernel -> free.
enum { ST_RX_KERNEL = 1, ST_RX_HELD = 2, ST_TX_FREE = 3, ST_TX_KERNEL = 4, ST_RX_SENDING = 5, ST_RX_STASH = 6 };

typedef struct {
    struct xsk_socket *xsk;
    int fd;
    int mode;                 // CXDP_MODE_GENERIC / NATIVE as attached
    struct xsk_ring_cons rx;
    struct xsk_ring_prod tx;
    struct xsk_ring_prod fq;
    struct xsk_ring_cons cq;
    uint32_t rx_first, tx_first;   // first frame index of the RX and TX partitions
    uint32_t rx_kernel;            // RX partition frames the kernel holds (fill ring, kernel, RX ring)
    uint32_t rx_held;              // RX partition frames in heads (cxdp_rx_frames, not yet sent or recycled)
    uint32_t rx_sending;           // RX partition frames on a TX ring (either socket's) until completed
    uint64_t *rx_stash;            // RX partition frames given back (addresses), not yet in the fill ring
    uint32_t rx_stash_n;
    uint64_t *tx_free;             // free TX frames (addresses), a stack
    uint32_t tx_free_n;
    uint32_t tx_kernel;
    int kick;
    int gone;                      // ENXIO seen: the kernel unbound the socket (interface deleted)
    uint32_t empty;                // empty RX polls, for the periodic liveness check
    int wake_when_empty;           // recvfrom on every empty RX poll (it drives the kernel's busy poll)
    uint64_t rx_frames, tx_frames, tx_copied, tx_completed, recycled, filtered, kick_errors;
} side_t;

struct cxdp_pair {
    void *area;
    size_t area_len;
    uint32_t frame_size;
    uint32_t ring;            // ring and partition size
    uint32_t frames;
    uint32_t queue;           // of both sockets
    int zero_copy;
    uint8_t *state;           // one per frame
    uint64_t violations;
    struct xsk_umem *umem;
    side_t side[2];
};

// libbpf and libxdp print their warnings on stderr; the Swift side says what went wrong instead.
// Set when the library is loaded, so it holds for every call (program.c's too).
static int quiet_libbpf(enum libbpf_print_level l, const char *f, va_list ap) { (void)l; (void)f; (void)ap; return 0; }
static int quiet_libxdp(enum libxdp_print_level l, const char *f, va_list ap) { (void)l; (void)f; (void)ap; return 0; }

__attribute__((constructor)) static void quiet_libraries(void) {
    libbpf_set_print(quiet_libbpf);
    libxdp_set_print(quiet_libxdp);
}

// ---------------------------------------------------------------------------------------
// Frame states

// The partition of a frame: 0 = side 0 RX, 1 = side 0 TX, 2 = side 1 RX, 3 = side 1 TX.
static inline uint32_t partition(const cxdp_pair *p, uint64_t frame) { return (uint32_t)(frame / p->ring); }

static inline int transition(cxdp_pair *p, uint64_t addr, uint8_t from, uint8_t to, uint32_t first) {
    uint64_t frame = addr / p->frame_size;
    if (frame < first || frame >= (uint64_t)first + p->ring || p->state[frame] != from) {
        p->violations++;
        return 0;
    }
    p->state[frame] = to;
    return 1;
}

// The side whose RX partition holds the frame at `base` in state `from`, or -1 (counted as a
// violation): a frame given back or sent must be an RX frame in that state.
static inline int rx_owner(cxdp_pair *p, uint64_t base, uint8_t from) {
    uint64_t frame = base / p->frame_size;
    uint32_t q = partition(p, frame);
    if (base >= p->area_len || (q & 1) || p->state[frame] != from) {
        p->violations++;
        return -1;
    }
    return (int)(q >> 1);
}

// Gives the stashed RX frames back to the fill ring (all that fit), waking the kernel if it
// asks.
static void refill(cxdp_pair *p, side_t *s) {
    if (s->rx_stash_n == 0) return;
    uint32_t idx = 0;
    uint32_t n = s->rx_stash_n;
    uint32_t got = xsk_ring_prod__reserve(&s->fq, n, &idx);
    while (got == 0 && n > 1) { n /= 2; got = xsk_ring_prod__reserve(&s->fq, n, &idx); }
    for (uint32_t i = 0; i < got; i++) {
        uint64_t addr = s->rx_stash[--s->rx_stash_n];
        p->state[addr / p->frame_size] = ST_RX_KERNEL;
        *xsk_ring_prod__fill_addr(&s->fq, idx + i) = addr;
    }
    xsk_ring_prod__submit(&s->fq, got);
    s->rx_kernel += got;
    if (got && xsk_ring_prod__needs_wakeup(&s->fq)) recvfrom(s->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

// Takes side s's TX completions: a copy's TX frame goes back on s's free stack, a zero-copy RX
// frame (of either side's partition) onto its side's stash, for that side's fill ring.
static uint32_t reclaim(cxdp_pair *p, side_t *s) {
    uint32_t idx = 0;
    uint32_t n = xsk_ring_cons__peek(&s->cq, p->ring, &idx);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t addr = *xsk_ring_cons__comp_addr(&s->cq, idx + i);
        addr = xsk_umem__extract_addr(addr);
        addr -= addr % p->frame_size;
        uint64_t frame = addr / p->frame_size;
        if (addr < p->area_len && (partition(p, frame) & 1) == 0) {
            int r = rx_owner(p, addr, ST_RX_SENDING);
            if (r < 0) continue;
            side_t *o = &p->side[r];
            p->state[frame] = ST_RX_STASH;
            o->rx_sending--;
            o->rx_stash[o->rx_stash_n++] = addr;
        } else {
            if (!transition(p, addr, ST_TX_KERNEL, ST_TX_FREE, s->tx_first)) continue;
            s->tx_free[s->tx_free_n++] = addr;
            s->tx_kernel--;
        }
        s->tx_completed++;
    }
    if (n) xsk_ring_cons__release(&s->cq, n);
    return n;
}

// sendto() while the kernel asks for a wake-up and has not taken every descriptor (in copy
// mode one call sends at most 32).
static void kick(cxdp_pair *p, side_t *s) {
    if (!s->kick) return;
    for (uint32_t round = 0; round <= p->ring / 32 + 1; round++) {
        if (!xsk_ring_prod__needs_wakeup(&s->tx)) return;
        uint32_t consumer = __atomic_load_n(s->tx.consumer, __ATOMIC_ACQUIRE);
        if (consumer == s->tx.cached_prod) return;
        if (sendto(s->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0) {
            if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS || errno == EINTR) return;
            if (errno == ENXIO) s->gone = ENXIO;
            s->kick_errors++;
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Open / close

static void free_pair(cxdp_pair *p) {
    if (p == NULL) return;
    if (p->side[1].xsk) xsk_socket__delete(p->side[1].xsk);
    if (p->side[0].xsk) xsk_socket__delete(p->side[0].xsk);
    if (p->umem) xsk_umem__delete(p->umem);
    if (p->area) munmap(p->area, p->area_len);
    for (int i = 0; i < 2; i++) { free(p->side[i].rx_stash); free(p->side[i].tx_free); }
    free(p->state);
    free(p);
}

int cxdp_open_umem(const cxdp_options *opts, cxdp_pair **pair, int *registering) {
    *registering = 0;
    *pair = NULL;
    uint32_t ring = opts->ring_size ? opts->ring_size : 1024, frame_size = opts->frame_size ? opts->frame_size : 2048;
    if ((ring & (ring - 1)) != 0 || ring < 64 || (frame_size != 2048 && frame_size != 4096)) return EINVAL;
    cxdp_pair *p = calloc(1, sizeof *p);
    if (p == NULL) return ENOMEM;
    p->ring = ring;
    p->frame_size = frame_size;
    p->zero_copy = opts->zero_copy;
    p->queue = opts->queue;
    p->frames = 4 * p->ring;
    p->area_len = (size_t)p->frames * p->frame_size;
    p->area = mmap(NULL, p->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    p->state = calloc(p->frames, 1);
    for (int i = 0; i < 2; i++) {
        p->side[i].rx_stash = calloc(p->ring, sizeof(uint64_t));
        p->side[i].tx_free = calloc(p->ring, sizeof(uint64_t));
        p->side[i].fd = -1;
        p->side[i].kick = 1;
    }
    if (p->area == MAP_FAILED || p->state == NULL || !p->side[0].rx_stash || !p->side[0].tx_free
        || !p->side[1].rx_stash || !p->side[1].tx_free) {
        if (p->area == MAP_FAILED) p->area = NULL;
        free_pair(p);
        return ENOMEM;
    }
    struct xsk_umem_config ucfg;
    memset(&ucfg, 0, sizeof ucfg);
    ucfg.fill_size = p->ring;
    ucfg.comp_size = p->ring;
    ucfg.frame_size = p->frame_size;
    ucfg.frame_headroom = 0;
    int r = xsk_umem__create(&p->umem, p->area, p->area_len, &p->side[0].fq, &p->side[0].cq, &ucfg);
    if (r != 0) {
        p->umem = NULL;
        free_pair(p);
        *registering = 1;
        return -r;
    }
    *pair = p;
    return 0;
}

int cxdp_bind(cxdp_pair *p, int side, const char *ifname, int mode) {
    if (p == NULL || (side != 0 && side != 1) || p->side[side].xsk != NULL) return -EINVAL;
    side_t *s = &p->side[side];
    struct xsk_socket_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rx_size = p->ring;
    cfg.tx_size = p->ring;
    cfg.xdp_flags = mode == CXDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    cfg.bind_flags = XDP_USE_NEED_WAKEUP | (p->zero_copy ? XDP_ZEROCOPY : XDP_COPY);
    int r = xsk_socket__create_shared(&s->xsk, ifname, p->queue, p->umem, &s->rx, &s->tx, &s->fq, &s->cq, &cfg);
    if (r != 0) {
        s->xsk = NULL;
        return r < 0 ? r : -r;
    }
    s->fd = xsk_socket__fd(s->xsk);
    s->mode = mode;
    // The partitions: RX frames go into the fill ring now, TX frames onto the free stack.
    s->rx_first = (uint32_t)side * 2 * p->ring;
    s->tx_first = s->rx_first + p->ring;
    for (uint32_t f = 0; f < p->ring; f++) {
        p->state[s->rx_first + f] = ST_RX_STASH;
        s->rx_stash[s->rx_stash_n++] = (uint64_t)(s->rx_first + f) * p->frame_size;
        p->state[s->tx_first + f] = ST_TX_FREE;
        s->tx_free[s->tx_free_n++] = (uint64_t)(s->tx_first + p->ring - 1 - f) * p->frame_size;
    }
    refill(p, s);
    return 0;
}

int cxdp_frame_census(const cxdp_pair *p, cxdp_census *out, char *err, size_t errlen) {
    cxdp_census c;
    memset(&c, 0, sizeof c);
    if (p == NULL) { clinux_set_err(err, errlen, "no pair"); return -1; }
    c.total = p->frames;
    c.per_partition = p->ring;
    c.violations = p->violations;
    uint32_t wrong = 0;
    for (int i = 0; i < 2; i++) {
        const side_t *s = &p->side[i];
        for (uint32_t f = 0; f < p->ring; f++) {
            uint8_t a = p->state[s->rx_first + f], b = p->state[s->tx_first + f];
            switch (a) {
            case ST_RX_KERNEL: c.rx_kernel[i]++; break;
            case ST_RX_HELD: c.rx_held[i]++; break;
            case ST_RX_SENDING: c.rx_sending[i]++; break;
            case ST_RX_STASH: c.rx_stash[i]++; break;
            default: wrong++;
            }
            if (b == ST_TX_FREE) c.tx_free[i]++; else if (b == ST_TX_KERNEL) c.tx_kernel[i]++; else wrong++;
        }
    }
    if (out) *out = c;
    for (int i = 0; i < 2; i++) {
        const side_t *s = &p->side[i];
        if (wrong || c.rx_kernel[i] != s->rx_kernel || c.rx_held[i] != s->rx_held || c.rx_sending[i] != s->rx_sending
            || c.rx_stash[i] != s->rx_stash_n || c.tx_free[i] != s->tx_free_n || c.tx_kernel[i] != s->tx_kernel
            || c.rx_kernel[i] + c.rx_held[i] + c.rx_sending[i] + c.rx_stash[i] != p->ring
            || c.tx_free[i] + c.tx_kernel[i] != p->ring) {
            clinux_set_err(err, errlen, "side %d: states rx-kernel %u rx-held %u rx-sending %u rx-stash %u tx-free %u tx-kernel %u "
                    "(%u foreign), counters %u %u %u %u %u %u, partition %u", i, c.rx_kernel[i], c.rx_held[i],
                    c.rx_sending[i], c.rx_stash[i], c.tx_free[i], c.tx_kernel[i], wrong, s->rx_kernel, s->rx_held,
                    s->rx_sending, s->rx_stash_n, s->tx_free_n, s->tx_kernel, p->ring);
            return -1;
        }
    }
    if (c.violations) { clinux_set_err(err, errlen, "%llu wrong frame transitions refused", (unsigned long long)c.violations); return -1; }
    return 0;
}

void cxdp_close_pair(cxdp_pair *p, int timeout_ms, cxdp_census *final) {
    if (p == NULL) return;
    if (p->side[0].xsk == NULL || p->side[1].xsk == NULL) {  // an open that failed half-way
        if (final) memset(final, 0, sizeof *final);
        free_pair(p);
        return;
    }
    for (int waited = 0;; waited++) {
        uint32_t pending = 0;
        for (int i = 0; i < 2; i++) {
            side_t *s = &p->side[i];
            s->kick = 1;
            reclaim(p, s);
            kick(p, s);
            pending += s->tx_kernel + s->rx_sending;
        }
        if (pending == 0 || waited >= timeout_ms) break;
        struct pollfd fds[2] = { { p->side[0].fd, POLLOUT, 0 }, { p->side[1].fd, POLLOUT, 0 } };
        poll(fds, 2, 1);
    }
    // Every frame given back goes into its fill ring (which has room for the whole partition),
    // so that the last census shows each RX frame in the kernel's hands unless a head kept it.
    refill(p, &p->side[0]);
    refill(p, &p->side[1]);
    if (final) cxdp_frame_census(p, final, NULL, 0);
    free_pair(p);
}

int cxdp_fd(const cxdp_pair *p, int side) { return p && (side == 0 || side == 1) ? p->side[side].fd : -1; }
int cxdp_mode(const cxdp_pair *p, int side) { return p && (side == 0 || side == 1) ? p->side[side].mode : 0; }
int cxdp_zero_copy(const cxdp_pair *p) { return p ? p->zero_copy : 0; }
void cxdp_set_tx_kick(cxdp_pair *p, int side, int on) { if (p && (side == 0 || side == 1)) p->side[side].kick = on; }

int cxdp_set_busy_poll_option(cxdp_pair *p, int side, int option, int value) {
    if (p == NULL || (side != 0 && side != 1) || p->side[side].fd < 0) return EBADF;
    int name;
    switch (option) {
    case CXDP_BUSY_POLL: name = SO_BUSY_POLL; break;
    case CXDP_PREFER_BUSY_POLL: name = SO_PREFER_BUSY_POLL; break;
    case CXDP_BUSY_POLL_BUDGET: name = SO_BUSY_POLL_BUDGET; break;
    default: return EINVAL;
    }
    return setsockopt(p->side[side].fd, SOL_SOCKET, name, &value, sizeof value) == 0 ? 0 : errno;
}

void cxdp_set_wake_when_empty(cxdp_pair *p, int side, int on) {
    if (p && (side == 0 || side == 1)) p->side[side].wake_when_empty = on;
}

// ---------------------------------------------------------------------------------------
// Bursts

int cxdp_rx_frames(cxdp_pair *p, int side, int n, uint64_t *frames, uint32_t *offsets, uint32_t *lens,
                   char *err, size_t errlen) {
    if (p == NULL || (side != 0 && side != 1) || n < 0) { clinux_set_err(err, errlen, "bad arguments"); return -1; }
    side_t *s = &p->side[side];
    uint32_t idx = 0;
    uint32_t got = n > 0 ? xsk_ring_cons__peek(&s->rx, (uint32_t)n, &idx) : 0;
    int out = 0;
    for (uint32_t i = 0; i < got; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s->rx, idx + i);
        uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
        uint64_t base = addr - addr % p->frame_size;
        if (!transition(p, base, ST_RX_KERNEL, ST_RX_HELD, s->rx_first)) continue;
        s->rx_kernel--;
        s->rx_held++;
        frames[out] = base;
        uint32_t offset = (uint32_t)(addr - base);
        offsets[out] = offset;
        lens[out] = d->len <= p->frame_size - offset ? d->len : p->frame_size - offset;
        out++;
    }
    if (got) xsk_ring_cons__release(&s->rx, got);
    s->rx_frames += (uint64_t)out;
    // This thread also sends on the other socket: its completions bring this side's frames
    // home, and a kick there moves frames that wait in its TX ring (the kernel took only part
    // of them, or kicks were off) even when nothing new is sent.
    reclaim(p, &p->side[side ^ 1]);
    kick(p, &p->side[side ^ 1]);
    refill(p, s);
    // An empty ring: wake the kernel if the fill ring asks, and every 8th time anyway, which is
    // also how a socket the kernel unbound (its interface deleted: ENXIO) is noticed; every time
    // when busy polling (the syscall is where the kernel polls the device for us).
    if (got == 0 && (s->wake_when_empty || xsk_ring_prod__needs_wakeup(&s->fq) || (++s->empty & 7) == 0)
        && recvfrom(s->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) < 0 && (errno == ENXIO || errno == ENODEV)) {
        s->gone = ENXIO;
        clinux_set_err(err, errlen, "the interface is gone (the kernel unbound the AF_XDP socket: %s)", strerror(errno));
        return -1;
    }
    return out;
}

void cxdp_recycle(cxdp_pair *p, const uint64_t *frames, int n) {
    if (p == NULL) return;
    for (int i = 0; i < n; i++) {
        uint64_t base = frames[i] - frames[i] % p->frame_size;
        int r = rx_owner(p, base, ST_RX_HELD);
        if (r < 0) continue;
        side_t *o = &p->side[r];
        p->state[base / p->frame_size] = ST_RX_STASH;
        o->rx_held--;
        o->rx_stash[o->rx_stash_n++] = base;
        o->recycled++;
    }
}

void cxdp_filter_out(cxdp_pair *p, int side, const uint64_t *frames, int n) {
    if (p == NULL || (side != 0 && side != 1) || n <= 0) return;
    cxdp_recycle(p, frames, n);
    p->side[side].filtered += (uint64_t)n;
}

int cxdp_tx_burst(cxdp_pair *p, int side, int n, const uint8_t *const *bufs, const uint64_t *frames,
                  const uint32_t *lens, int *err_no) {
    int e = 0;
    if (p == NULL || (side != 0 && side != 1) || n < 0) { if (err_no) *err_no = EINVAL; return 0; }
    side_t *s = &p->side[side];
    if (s->gone) { if (err_no) *err_no = s->gone; return 0; }
    reclaim(p, s);
    // How many go: stop at the first frame that cannot (too long, not ours: that one is dropped
    // by the caller), at the first copy without a free TX frame, and at the ring's free room.
    int k = 0;
    uint32_t copies = 0;
    for (; k < n; k++) {
        uint64_t f = frames ? frames[k] : CXDP_NO_FRAME;
        if (f == CXDP_NO_FRAME) {
            if (lens[k] > p->frame_size) { e = EMSGSIZE; break; }
            if (copies == s->tx_free_n) { e = EAGAIN; break; }
            copies++;
        } else {
            uint64_t base = f - f % p->frame_size;
            if (f % p->frame_size + lens[k] > p->frame_size) { e = EMSGSIZE; break; }
            if (rx_owner(p, base, ST_RX_HELD) < 0) { e = EINVAL; break; }  // not a frame a head holds (sent twice, or not ours)
            p->state[base / p->frame_size] = ST_RX_SENDING;  // tentatively: a second use in this burst is refused
        }
    }
    int checked = k;
    uint32_t room = k > 0 ? xsk_prod_nb_free(&s->tx, (uint32_t)k) : 0;
    if (room < (uint32_t)k) { k = (int)room; e = EAGAIN; }
    uint32_t idx = 0;
    if (k > 0 && xsk_ring_prod__reserve(&s->tx, (uint32_t)k, &idx) != (uint32_t)k) { k = 0; e = EAGAIN; }
    for (int i = k; i < checked; i++)  // the frames that do not go stay the heads'
        if (frames && frames[i] != CXDP_NO_FRAME) p->state[frames[i] / p->frame_size] = ST_RX_HELD;
    uint32_t copied = 0;
    for (int i = 0; i < k; i++) {
        uint64_t f = frames ? frames[i] : CXDP_NO_FRAME, addr;
        if (f == CXDP_NO_FRAME) {
            addr = s->tx_free[--s->tx_free_n];
            p->state[addr / p->frame_size] = ST_TX_KERNEL;
            memcpy((uint8_t *)p->area + addr, bufs[i], lens[i]);
            copied++;
        } else {
            addr = f;
            uint64_t frame = f / p->frame_size;
            side_t *o = &p->side[partition(p, frame) >> 1];
            o->rx_held--;
            o->rx_sending++;
        }
        struct xdp_desc *d = xsk_ring_prod__tx_desc(&s->tx, idx + i);
        d->addr = addr;
        d->len = lens[i];
        d->options = 0;
    }
    if (k > 0) {
        xsk_ring_prod__submit(&s->tx, (uint32_t)k);
        s->tx_kernel += copied;
        s->tx_copied += copied;
        s->tx_frames += (uint64_t)k;
    }
    kick(p, s);
    if (err_no) *err_no = k == n ? 0 : e;
    return k;
}

uint8_t *cxdp_umem_area(const cxdp_pair *p) { return p ? (uint8_t *)p->area : NULL; }
uint32_t cxdp_frame_size(const cxdp_pair *p) { return p ? p->frame_size : 0; }

int cxdp_stats(const cxdp_pair *p, int side, cxdp_counters *out, char *err, size_t errlen) {
    if (p == NULL || (side != 0 && side != 1) || out == NULL) { clinux_set_err(err, errlen, "bad arguments"); return -1; }
    const side_t *s = &p->side[side];
    memset(out, 0, sizeof *out);
    out->rx_frames = s->rx_frames;
    out->tx_frames = s->tx_frames;
    out->tx_copied = s->tx_copied;
    out->recycled = s->recycled;
    out->filtered = s->filtered;
    out->tx_completed = s->tx_completed;
    out->kick_errors = s->kick_errors;
    struct xdp_statistics st;
    socklen_t len = sizeof st;
    memset(&st, 0, sizeof st);
    if (getsockopt(s->fd, SOL_XDP, XDP_STATISTICS, &st, &len) != 0) {
        clinux_set_err(err, errlen, "XDP_STATISTICS: %s", strerror(errno));
        return -1;
    }
    out->rx_dropped = st.rx_dropped;
    out->rx_invalid_descs = st.rx_invalid_descs;
    out->tx_invalid_descs = st.tx_invalid_descs;
    out->rx_ring_full = st.rx_ring_full;
    out->rx_fill_ring_empty = st.rx_fill_ring_empty_descs;
    out->tx_ring_empty = st.tx_ring_empty_descs;
    return 0;
}
