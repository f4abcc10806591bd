// CPcap: the libpcap port; its TX ring is in tx_ring.c. See include/CPcap.h.
#define _GNU_SOURCE
#include "CPcap.h"
#include "tx_ring.h"
#include "CLinux.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

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

struct cpcap_port {
    pcap_t *pcap;
    int fd;
    int ifindex;          // the one the pcap socket is bound to
    int qdisc_bypass;
    tx_ring *tx;
};

// ---------------------------------------------------------------------------------------
// Open / close

// Closes the half-opened handle and reports why; every failure after pcap_create ends here.
static cpcap_status fail(pcap_t *pc, cpcap_status status, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clinux_vset_err(err, errlen, fmt, ap);
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

cpcap_status cpcap_open(const char *ifname, const cpcap_options *opts, cpcap_port **port,
                        char *err, size_t errlen) {
    if (port == NULL) return fail(NULL, CPCAP_OTHER, err, errlen, "no place for the port");
    *port = NULL;
    if (!clinux_possible_ifname(ifname))
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

void cpcap_close(cpcap_port *p) {
    if (p == NULL) return;
    cpcap_tx_ring_free(p->tx);
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
        clinux_set_err(err, errlen, "port is closed");
        return -1;
    }
    if (n <= 0) return 0;
    rx_ctx c = { bufs, caps, lens, wirelens, n, 0 };
    int r = pcap_dispatch(p->pcap, n, rx_cb, (u_char *)&c);
    if (r == PCAP_ERROR) {
        clinux_set_err(err, errlen, "%s", pcap_geterr(p->pcap));
        return -1;
    }
    // PCAP_ERROR_BREAK (-2): pcap_breakloop; report what was copied.
    return c.i;
}

// ---------------------------------------------------------------------------------------
// Send

#define CPCAP_TX_CHUNK 256

int cpcap_tx_burst(cpcap_port *p, int n, const uint8_t *const *bufs, const uint32_t *lens, int *err_no) {
    int dummy;
    if (err_no == NULL) err_no = &dummy;
    *err_no = 0;
    if (p == NULL || p->fd < 0) {
        *err_no = EBADF;
        return 0;
    }
    if (n <= 0) return 0;
    if (p->tx != NULL) return cpcap_tx_ring_burst(p->tx, p->ifindex, n, bufs, lens, err_no);

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

int cpcap_set_qdisc_bypass(cpcap_port *p, int on) {
    if (p == NULL || p->fd < 0) return EBADF;
    on = on ? 1 : 0;
    int e = cpcap_qdisc_bypass(p->fd, on);
    if (e == 0 && p->tx != NULL) e = cpcap_qdisc_bypass(cpcap_tx_ring_fd(p->tx), on);
    if (e == 0) p->qdisc_bypass = on;
    return e;
}

// ---------------------------------------------------------------------------------------
// TX ring (tx_ring.c)

int cpcap_enable_tx_ring(cpcap_port *p, int frames) {
    if (p == NULL || p->fd < 0) return EBADF;
    if (p->tx != NULL) return EALREADY;
    if (frames < 1 || frames > (1 << 20)) return EINVAL;
    return cpcap_tx_ring_open(p->ifindex, frames, p->qdisc_bypass, &p->tx);
}

int cpcap_has_tx_ring(const cpcap_port *p) {
    return p != NULL && p->tx != NULL;
}

// ---------------------------------------------------------------------------------------
// Counters, filters, version

int cpcap_stats(cpcap_port *p, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop, char *err, size_t errlen) {
    if (p == NULL || p->pcap == NULL) {
        clinux_set_err(err, errlen, "port is closed");
        return -1;
    }
    struct pcap_stat st;
    memset(&st, 0, sizeof st);
    if (pcap_stats(p->pcap, &st) != 0) {
        clinux_set_err(err, errlen, "pcap_stats: %s", pcap_geterr(p->pcap));
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
        clinux_set_err(err, errlen, "pcap_open_dead failed");
        return NULL;
    }
    cpcap_filter *f = calloc(1, sizeof *f);
    if (f == NULL) {
        clinux_set_err(err, errlen, "%s", strerror(ENOMEM));
    } else if (pcap_compile(dead, &f->program, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        clinux_set_err(err, errlen, "%s", pcap_geterr(dead));
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
