// CPcap: the libpcap port. See include/CPcap.h.
#define _GNU_SOURCE
#include "CPcap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000  // Linux 6.7; older kernels ignore the bit
#endif

_Static_assert(CPCAP_FANOUT_HASH == PACKET_FANOUT_HASH && CPCAP_FANOUT_CPU == PACKET_FANOUT_CPU
                   && CPCAP_FANOUT_CBPF == PACKET_FANOUT_CBPF
                   && CPCAP_FANOUT_FLAG_ROLLOVER == PACKET_FANOUT_FLAG_ROLLOVER
                   && CPCAP_FANOUT_FLAG_DEFRAG == PACKET_FANOUT_FLAG_DEFRAG,
               "cpcap's fanout constants are the kernel's");
_Static_assert(sizeof(cpcap_bpf_insn) == sizeof(struct sock_filter), "cpcap_bpf_insn is struct sock_filter");

// The TX ring: slot i is at map + i * frame_size (block size is a multiple of the slot
// size), its frame right after the TPACKET_V2 header. head is the next slot to fill; after
// every send() it equals the kernel's own head, which only advances over frames it took.
typedef struct {
    int fd;
    uint8_t *map;
    size_t map_len;
    uint32_t frame_size;
    uint32_t frame_nr;
    uint32_t head;
    uint32_t mtu_limit;   // MTU + 18 as last read; the kernel refuses longer frames
    pthread_mutex_t lock; // senders of one port may be on different threads
} tx_ring;

struct cpcap_port {
    pcap_t *pcap;
    int fd;
    int ifindex;          // the one the pcap socket is bound to
    int qdisc_bypass;
    tx_ring *tx;
};

static void vset_err(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (err != NULL && errlen > 0) vsnprintf(err, errlen, fmt, ap);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset_err(err, errlen, fmt, ap);
    va_end(ap);
}

// ---------------------------------------------------------------------------------------
// Open / close

// Closes the half-opened handle and reports why; every failure after pcap_create ends here.
static cpcap_status fail(pcap_t *pc, cpcap_status status, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset_err(err, errlen, fmt, ap);
    va_end(ap);
    if (pc != NULL) pcap_close(pc);
    return status;
}

static cpcap_status activate_status(int st) {
    switch (st) {
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED: return CPCAP_PERMISSION_DENIED;
    case PCAP_ERROR_NO_SUCH_DEVICE: return CPCAP_NO_SUCH_DEVICE;
    case PCAP_ERROR_IFACE_NOT_UP: return CPCAP_INTERFACE_DOWN;
    default: return CPCAP_OTHER;
    }
}

// libpcap's status text, with its detail when that adds something (for PCAP_ERROR the detail
// is the whole story).
static cpcap_status fail_activate(pcap_t *pc, int st, char *err, size_t errlen) {
    const char *detail = pcap_geterr(pc);
    const char *summary = pcap_statustostr(st);
    cpcap_status status = activate_status(st);
    if (detail == NULL || detail[0] == '\0' || strcmp(detail, summary) == 0)
        return fail(pc, status, err, errlen, "%s", summary);
    if (st == PCAP_ERROR) return fail(pc, status, err, errlen, "%s", detail);
    return fail(pc, status, err, errlen, "%s (%s)", summary, detail);
}

static cpcap_status apply_options(pcap_t *pc, const cpcap_options *opts, char *err, size_t errlen) {
    int snaplen = opts->snaplen > 0 ? opts->snaplen : 65535;
    const char *step = NULL;
    if (pcap_set_snaplen(pc, snaplen) != 0) step = "pcap_set_snaplen";
    else if (pcap_set_promisc(pc, opts->promisc ? 1 : 0) != 0) step = "pcap_set_promisc";
    else if (pcap_set_immediate_mode(pc, opts->immediate ? 1 : 0) != 0) step = "pcap_set_immediate_mode";
    else if (opts->buffer_size > 0 && pcap_set_buffer_size(pc, opts->buffer_size) != 0) step = "pcap_set_buffer_size";
    else if (!opts->immediate && pcap_set_timeout(pc, opts->timeout_ms) != 0) step = "pcap_set_timeout";
    if (step != NULL) return fail(pc, CPCAP_OTHER, err, errlen, "%s failed", step);
    return CPCAP_OK;
}

static cpcap_status apply_filter(pcap_t *pc, const char *filter, char *err, size_t errlen) {
    if (filter == NULL || filter[0] == '\0') return CPCAP_OK;
    struct bpf_program prog;
    if (pcap_compile(pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
        return fail(pc, CPCAP_BAD_FILTER, err, errlen, "filter \"%s\": %s", filter, pcap_geterr(pc));
    int r = pcap_setfilter(pc, &prog);
    pcap_freecode(&prog);
    if (r != 0) return fail(pc, CPCAP_OTHER, err, errlen, "pcap_setfilter: %s", pcap_geterr(pc));
    return CPCAP_OK;
}

// A name ifreq and libpcap take as it is: a longer one would be cut to another interface's.
static int possible_ifname(const char *ifname) {
    return ifname != NULL && ifname[0] != '\0' && strlen(ifname) < IF_NAMESIZE
        && strchr(ifname, '/') == NULL && strcmp(ifname, ".") != 0 && strcmp(ifname, "..") != 0;
}

cpcap_status cpcap_open(const char *ifname, const cpcap_options *opts, cpcap_port **port,
                        char *err, size_t errlen) {
    if (port == NULL) return fail(NULL, CPCAP_OTHER, err, errlen, "no place for the port");
    *port = NULL;
    if (!possible_ifname(ifname))
        return fail(NULL, CPCAP_NO_SUCH_DEVICE, err, errlen, "no interface can have this name");
    cpcap_options defaults = { 65535, 1, 1, 0, 1, NULL };
    if (opts == NULL) opts = &defaults;

    char ebuf[PCAP_ERRBUF_SIZE];
    ebuf[0] = '\0';
    pcap_t *pc = pcap_create(ifname, ebuf);
    if (pc == NULL) return fail(NULL, CPCAP_OTHER, err, errlen, "%s", ebuf[0] ? ebuf : "pcap_create failed");
    cpcap_status status = apply_options(pc, opts, err, errlen);
    if (status != CPCAP_OK) return status;

    int st = pcap_activate(pc);
    if (st < 0) return fail_activate(pc, st, err, errlen);
    // st > 0 is a warning (e.g. promiscuous mode not supported): carry on.

    int dlt = pcap_datalink(pc);
    if (dlt != DLT_EN10MB) {
        const char *name = pcap_datalink_val_to_name(dlt);
        return fail(pc, CPCAP_NOT_ETHERNET, err, errlen, "link-layer type %d (%s) is not Ethernet (DLT_EN10MB)",
                    dlt, name ? name : "unknown");
    }
    if (pcap_setdirection(pc, PCAP_D_IN) != 0)
        return fail(pc, CPCAP_OTHER, err, errlen, "pcap_setdirection(PCAP_D_IN): %s", pcap_geterr(pc));
    if (pcap_setnonblock(pc, 1, ebuf) != 0)
        return fail(pc, CPCAP_OTHER, err, errlen, "pcap_setnonblock: %s", ebuf);
    status = apply_filter(pc, opts->filter, err, errlen);
    if (status != CPCAP_OK) return status;
    int fd = pcap_get_selectable_fd(pc);
    if (fd < 0) return fail(pc, CPCAP_OTHER, err, errlen, "no selectable fd");
    // Let the kernel skip outgoing frames (other senders' TX on this interface) instead of
    // copying them into the ring for libpcap to discard. Old kernels: direction filter only.
    int one = 1;
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    // The bound index, not if_nametoindex: the name may have moved to another device since.
    struct sockaddr_ll sll;
    socklen_t sll_len = sizeof sll;
    memset(&sll, 0, sizeof sll);
    if (getsockname(fd, (struct sockaddr *)&sll, &sll_len) != 0)
        return fail(pc, CPCAP_OTHER, err, errlen, "getsockname: %s", strerror(errno));

    cpcap_port *p = calloc(1, sizeof *p);
    if (p == NULL) return fail(pc, CPCAP_OTHER, err, errlen, "%s", strerror(ENOMEM));
    p->pcap = pc;
    p->fd = fd;
    p->ifindex = sll.sll_ifindex;
    *port = p;
    return CPCAP_OK;
}

static void tx_ring_free(tx_ring *r) {
    if (r == NULL) return;
    if (r->map != NULL) munmap(r->map, r->map_len);
    if (r->fd >= 0) close(r->fd);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void cpcap_close(cpcap_port *p) {
    if (p == NULL) return;
    tx_ring_free(p->tx);
    if (p->pcap != NULL) pcap_close(p->pcap);
    free(p);
}

int cpcap_fd(const cpcap_port *p) {
    return p ? p->fd : -1;
}

// ---------------------------------------------------------------------------------------
// Receive

typedef struct {
    uint8_t *const *bufs;
    const uint32_t *caps;
    uint32_t *lens;
    uint32_t *wirelens;
    int n;
    int i;
} rx_ctx;

static void rx_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
    rx_ctx *c = (rx_ctx *)user;
    int i = c->i;
    if (i >= c->n) return;    // cannot happen: pcap_dispatch is given cnt = n
    uint32_t len = h->caplen;
    if (len > c->caps[i]) len = c->caps[i];
    memcpy(c->bufs[i], bytes, len);
    c->lens[i] = len;
    if (c->wirelens) c->wirelens[i] = h->len;
    c->i = i + 1;
}

int cpcap_rx_burst(cpcap_port *p, int n, uint8_t *const *bufs, const uint32_t *caps,
                   uint32_t *lens, uint32_t *wirelens, char *err, size_t errlen) {
    if (p == NULL || p->pcap == NULL) {
        set_err(err, errlen, "port is closed");
        return -1;
    }
    if (n <= 0) return 0;
    rx_ctx c = { bufs, caps, lens, wirelens, n, 0 };
    int r = pcap_dispatch(p->pcap, n, rx_cb, (u_char *)&c);
    if (r == PCAP_ERROR) {
        set_err(err, errlen, "%s", pcap_geterr(p->pcap));
        return -1;
    }
    // PCAP_ERROR_BREAK (-2): pcap_breakloop; report what was copied.
    return c.i;
}

// ---------------------------------------------------------------------------------------
// Send

#define CPCAP_TX_CHUNK 256

static int tx_ring_burst(tx_ring *r, int ifindex, int n, const uint8_t *const *bufs, const uint32_t *lens,
                         int *err_no);

int cpcap_tx_burst(cpcap_port *p, int n, const uint8_t *const *bufs, const uint32_t *lens, int *err_no) {
    int dummy;
    if (err_no == NULL) err_no = &dummy;
    *err_no = 0;
    if (p == NULL || p->fd < 0) {
        *err_no = EBADF;
        return 0;
    }
    if (n <= 0) return 0;
    if (p->tx != NULL) return tx_ring_burst(p->tx, p->ifindex, n, bufs, lens, err_no);

    struct mmsghdr msgs[CPCAP_TX_CHUNK];
    struct iovec iov[CPCAP_TX_CHUNK];
    int sent = 0;
    while (sent < n) {
        int chunk = n - sent;
        if (chunk > CPCAP_TX_CHUNK) chunk = CPCAP_TX_CHUNK;
        for (int k = 0; k < chunk; k++) {
            iov[k].iov_base = (void *)bufs[sent + k];
            iov[k].iov_len = lens[sent + k];
            memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
            msgs[k].msg_len = 0;
        }
        int r = sendmmsg(p->fd, msgs, (unsigned int)chunk, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            *err_no = errno;
            break;
        }
        if (r == 0) {             // should not happen; avoid spinning
            *err_no = EAGAIN;
            break;
        }
        sent += r;
        // r < chunk: the kernel stopped at frame sent; the loop tries it again alone
        // at the head of the next call, which either sends it or reports its errno.
    }
    return sent;
}

// ---------------------------------------------------------------------------------------
// Fanout, qdisc bypass

int cpcap_join_fanout(cpcap_port *p, uint16_t group, int type, int flags) {
    if (p == NULL || p->fd < 0) return EBADF;
    int arg = (int)group | ((type | flags | PACKET_FANOUT_FLAG_IGNORE_OUTGOING) << 16);
    return setsockopt(p->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) == 0 ? 0 : errno;
}

int cpcap_set_fanout_program(cpcap_port *p, const cpcap_bpf_insn *insns, int count) {
    if (p == NULL || p->fd < 0) return EBADF;
    if (insns == NULL || count <= 0 || count > BPF_MAXINSNS) return EINVAL;
    struct sock_fprog prog = { (unsigned short)count, (struct sock_filter *)insns };
    return setsockopt(p->fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof prog) == 0 ? 0 : errno;
}

static int set_bypass(int fd, int on) {
    return setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) == 0 ? 0 : errno;
}

int cpcap_set_qdisc_bypass(cpcap_port *p, int on) {
    if (p == NULL || p->fd < 0) return EBADF;
    on = on ? 1 : 0;
    int e = set_bypass(p->fd, on);
    if (e == 0 && p->tx != NULL) e = set_bypass(p->tx->fd, on);
    if (e == 0) p->qdisc_bypass = on;
    return e;
}

// ---------------------------------------------------------------------------------------
// TX ring

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

static int tx_ring_fail(tx_ring *r, int e) {
    tx_ring_free(r);
    return e;
}

int cpcap_enable_tx_ring(cpcap_port *p, int frames) {
    if (p == NULL || p->fd < 0) return EBADF;
    if (p->tx != NULL) return EALREADY;
    if (frames < 1 || frames > (1 << 20)) return EINVAL;
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
    int e = read_mtu_limit(r->fd, p->ifindex, &r->mtu_limit);
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
    if (p->qdisc_bypass && (e = set_bypass(r->fd, 1)) != 0) return tx_ring_fail(r, e);
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
    sll.sll_ifindex = p->ifindex;
    if (bind(r->fd, (struct sockaddr *)&sll, sizeof sll) != 0) return tx_ring_fail(r, errno);
    p->tx = r;
    return 0;
}

int cpcap_has_tx_ring(const cpcap_port *p) {
    return p != NULL && p->tx != NULL;
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

static int tx_ring_burst(tx_ring *r, int ifindex, int n, const uint8_t *const *bufs, const uint32_t *lens,
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

// ---------------------------------------------------------------------------------------
// Counters, filters, version

int cpcap_stats(cpcap_port *p, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop, char *err, size_t errlen) {
    if (p == NULL || p->pcap == NULL) {
        set_err(err, errlen, "port is closed");
        return -1;
    }
    struct pcap_stat st;
    memset(&st, 0, sizeof st);
    if (pcap_stats(p->pcap, &st) != 0) {
        set_err(err, errlen, "pcap_stats: %s", pcap_geterr(p->pcap));
        return -1;
    }
    if (recv) *recv = st.ps_recv;
    if (drop) *drop = st.ps_drop;
    if (ifdrop) *ifdrop = st.ps_ifdrop;
    return 0;
}

struct cpcap_filter {
    struct bpf_program program;
};

cpcap_filter *cpcap_filter_compile(const char *expr, int snaplen, char *err, size_t errlen) {
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, snaplen > 0 ? snaplen : 65535);
    if (dead == NULL) {
        set_err(err, errlen, "pcap_open_dead failed");
        return NULL;
    }
    cpcap_filter *f = calloc(1, sizeof *f);
    if (f == NULL) {
        set_err(err, errlen, "%s", strerror(ENOMEM));
    } else if (pcap_compile(dead, &f->program, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        set_err(err, errlen, "%s", pcap_geterr(dead));
        free(f);
        f = NULL;
    }
    pcap_close(dead);
    return f;
}

int cpcap_filter_match(const cpcap_filter *f, const uint8_t *data, uint32_t caplen, uint32_t wirelen) {
    return bpf_filter(f->program.bf_insns, data, wirelen, caplen) != 0;
}

void cpcap_filter_free(cpcap_filter *f) {
    if (f == NULL) return;
    pcap_freecode(&f->program);
    free(f);
}

int cpcap_check_filter(const char *expr, int snaplen, char *err, size_t errlen) {
    cpcap_filter *f = cpcap_filter_compile(expr, snaplen, err, errlen);
    int rc = f == NULL ? -1 : 0;
    cpcap_filter_free(f);
    return rc;
}

const char *cpcap_lib_version(void) {
    return pcap_lib_version();
}
