// CPcap: the TX ring of cpcap's own. See tx_ring.h.
#define _GNU_SOURCE
#include "tx_ring.h"

#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_packet.h>

// The TX ring: slot i is at map + i * frame_size (block size is a multiple of the slot
// size), its frame right after the TPACKET_V2 header. head is the next slot to fill; after
// every send() it equals the kernel's own head, which only advances over frames it took.
struct cpcap_tx_ring {
    int fd;
    uint8_t *map;
    size_t map_len;
    uint32_t frame_size;
    uint32_t frame_nr;
    uint32_t head;
    uint32_t mtu_limit;   // MTU + 18 as last read; the kernel refuses longer frames
    pthread_mutex_t lock; // senders of one port may be on different threads
};

#define TX_DATA_OFFSET (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))  // where the kernel reads
#define TX_MTU_SLACK 18                                              // Ethernet header + VLAN tag

// 0 with the interface's MTU + 18, or errno. By index: the ring is bound to that device.
static int read_mtu_limit(int fd, int ifindex, uint32_t *limit) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (if_indextoname((unsigned)ifindex, ifr.ifr_name) == NULL) return errno;
    if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) return errno;
    *limit = (uint32_t)ifr.ifr_mtu + TX_MTU_SLACK;
    return 0;
}

void cpcap_tx_ring_free(tx_ring *r) {
    if (r == NULL) return;
    if (r->map != NULL) munmap(r->map, r->map_len);
    if (r->fd >= 0) close(r->fd);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int cpcap_tx_ring_fd(const tx_ring *r) { return r->fd; }

int cpcap_qdisc_bypass(int fd, int on) {
    return setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) == 0 ? 0 : errno;
}

static int tx_ring_fail(tx_ring *r, int e) {
    cpcap_tx_ring_free(r);
    return e;
}

int cpcap_tx_ring_open(int ifindex, int frames, int qdisc_bypass, tx_ring **ring) {
    tx_ring *r = calloc(1, sizeof *r);
    if (r == NULL) return ENOMEM;
    r->fd = -1;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return ENOMEM;
    }
    // Protocol 0: bound to the device for sending, with no receive hook at all.
    r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (r->fd < 0) return tx_ring_fail(r, errno);
    int e = read_mtu_limit(r->fd, ifindex, &r->mtu_limit);
    if (e != 0) return tx_ring_fail(r, e);

    uint32_t need = (uint32_t)TX_DATA_OFFSET + r->mtu_limit, frame_size = 64;
    while (frame_size < need) frame_size <<= 1;
    long page = sysconf(_SC_PAGESIZE);
    uint32_t block_size = frame_size > (uint32_t)page ? frame_size : (uint32_t)page;
    uint32_t per_block = block_size / frame_size;
    uint32_t blocks = ((uint32_t)frames + per_block - 1) / per_block;

    int version = TPACKET_V2;
    if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
        return tx_ring_fail(r, errno);
    if (qdisc_bypass && (e = cpcap_qdisc_bypass(r->fd, 1)) != 0) return tx_ring_fail(r, e);
    struct tpacket_req req = { block_size, blocks, frame_size, blocks * per_block };
    if (setsockopt(r->fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0) return tx_ring_fail(r, errno);
    r->frame_size = frame_size;
    r->frame_nr = req.tp_frame_nr;
    r->map_len = (size_t)block_size * blocks;
    void *map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (map == MAP_FAILED) return tx_ring_fail(r, errno);
    r->map = map;
    // In flight, a frame's skb counts against the send buffer: let the ring be the limit.
    int sndbuf = (int)(r->map_len < (1u << 30) ? r->map_len * 2 : (1u << 30));
    if (setsockopt(r->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
        (void)setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;
    sll.sll_ifindex = ifindex;
    if (bind(r->fd, (struct sockaddr *)&sll, sizeof sll) != 0) return tx_ring_fail(r, errno);
    *ring = r;
    return 0;
}

static struct tpacket2_hdr *tx_slot(const tx_ring *r, uint32_t i) {
    return (struct tpacket2_hdr *)(r->map + (size_t)i * r->frame_size);
}

static uint32_t slot_status(const tx_ring *r, uint32_t i) {
    return __atomic_load_n(&tx_slot(r, i)->tp_status, __ATOMIC_ACQUIRE);
}

// One send() for the `filled` frames from slot `start`, then the count the kernel took. It
// takes them in order and stops at the first it cannot: that one is left SEND_REQUEST (no
// memory, a failed xmit), WRONG_FORMAT (EMSGSIZE, EINVAL), or, when it was the first of the
// call and no skb could be had, AVAILABLE with -1/EAGAIN. Frames it did not take go back to
// AVAILABLE and head to the first of them, where the kernel's head stays.
static int tx_ring_kick(tx_ring *r, uint32_t start, int filled, int *kerr) {
    int out = 0, e;
    for (;;) {
        ssize_t rc = send(r->fd, NULL, 0, MSG_DONTWAIT);
        e = rc < 0 ? errno : 0;
        if (!(rc < 0 && e == EAGAIN)) {
            while (out < filled) {
                uint32_t st = slot_status(r, (start + (uint32_t)out) % r->frame_nr);
                if (st == TP_STATUS_SEND_REQUEST || st == TP_STATUS_WRONG_FORMAT) break;
                out++;  // SENDING or, once the skb is gone, AVAILABLE: it went out
            }
        }
        if (out == filled || e != EINTR) break;
    }
    for (int k = out; k < filled; k++)
        __atomic_store_n(&tx_slot(r, (start + (uint32_t)k) % r->frame_nr)->tp_status, TP_STATUS_AVAILABLE,
                         __ATOMIC_RELEASE);
    r->head = (start + (uint32_t)out) % r->frame_nr;
    *kerr = out == filled ? 0 : (e != 0 ? e : EAGAIN);  // short without an error: send buffer full
    return out;
}

int cpcap_tx_ring_burst(tx_ring *r, int ifindex, int n, const uint8_t *const *bufs, const uint32_t *lens,
                         int *err_no) {
    uint32_t slot_cap = r->frame_size - (uint32_t)TX_DATA_OFFSET;
    int done = 0;
    pthread_mutex_lock(&r->lock);
    while (done < n) {
        uint32_t start = r->head;
        int filled = 0, stop = 0;
        while (done + filled < n) {
            uint32_t len = lens[done + filled];
            // Checked here, not by the kernel: it logs every frame longer than its limit.
            if (len > r->mtu_limit && len <= slot_cap) (void)read_mtu_limit(r->fd, ifindex, &r->mtu_limit);
            if (len > slot_cap || len > r->mtu_limit) {
                stop = EMSGSIZE;
                break;
            }
            if (filled == (int)r->frame_nr || slot_status(r, r->head) != TP_STATUS_AVAILABLE) {
                stop = EAGAIN;
                break;
            }
            struct tpacket2_hdr *h = tx_slot(r, r->head);
            memcpy((uint8_t *)h + TX_DATA_OFFSET, bufs[done + filled], len);
            h->tp_len = len;
            __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
            r->head = (r->head + 1) % r->frame_nr;
            filled++;
        }
        int kerr = 0;
        if (filled > 0) {
            int out = tx_ring_kick(r, start, filled, &kerr);
            done += out;
            if (out < filled) {
                *err_no = kerr;
                break;
            }
        }
        // A full ring may have drained while the kernel sent: try again after progress only.
        if (stop == EAGAIN && filled > 0) continue;
        if (stop != 0) *err_no = stop;
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return done;
}

