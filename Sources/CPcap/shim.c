// CPcap shim: libpcap + the Linux calls it lacks. See include/CPcap.h.
#define _GNU_SOURCE
#include "CPcap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <pcap/pcap.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct cpcap_port {
    pcap_t *pcap;
    int fd;
    int nano;                 // timestamps in ns (else us)
    char ifname[IF_NAMESIZE];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

// A name usable both in ifreq and in /sys/class/net/NAME.
static int valid_ifname(const char *ifname, char *err, size_t errlen) {
    if (ifname == NULL || ifname[0] == '\0') {
        set_err(err, errlen, "empty interface name");
        return 0;
    }
    size_t len = strlen(ifname);
    if (len >= IF_NAMESIZE) {
        set_err(err, errlen, "%s: interface name longer than %d characters", ifname, IF_NAMESIZE - 1);
        return 0;
    }
    if (strchr(ifname, '/') != NULL || strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0) {
        set_err(err, errlen, "%s: invalid interface name", ifname);
        return 0;
    }
    return 1;
}

// ---------------------------------------------------------------------------------------
// Open / close

cpcap_port *cpcap_open(const char *ifname, const cpcap_options *opts, char *err, size_t errlen) {
    if (!valid_ifname(ifname, err, errlen)) return NULL;
    cpcap_options defaults = { 65535, 1, 1, 0, 1, NULL };
    if (opts == NULL) opts = &defaults;

    char ebuf[PCAP_ERRBUF_SIZE];
    ebuf[0] = '\0';
    pcap_t *pc = pcap_create(ifname, ebuf);
    if (pc == NULL) {
        set_err(err, errlen, "%s: %s", ifname, ebuf[0] ? ebuf : "pcap_create failed");
        return NULL;
    }

    int snaplen = opts->snaplen > 0 ? opts->snaplen : 65535;
    const char *step = NULL;
    if (pcap_set_snaplen(pc, snaplen) != 0) step = "pcap_set_snaplen";
    else if (pcap_set_promisc(pc, opts->promisc ? 1 : 0) != 0) step = "pcap_set_promisc";
    else if (pcap_set_immediate_mode(pc, opts->immediate ? 1 : 0) != 0) step = "pcap_set_immediate_mode";
    else if (opts->buffer_size > 0 && pcap_set_buffer_size(pc, opts->buffer_size) != 0) step = "pcap_set_buffer_size";
    else if (!opts->immediate && pcap_set_timeout(pc, opts->timeout_ms) != 0) step = "pcap_set_timeout";
    if (step != NULL) {
        set_err(err, errlen, "%s: %s failed", ifname, step);
        pcap_close(pc);
        return NULL;
    }
    // Microsecond timestamps (libpcap's default). Asking for nanoseconds was measured to cost
    // TCP throughput here (~3%): keep the kernel's cheaper default.

    int st = pcap_activate(pc);
    if (st < 0) {
        const char *detail = pcap_geterr(pc);
        if (st == PCAP_ERROR) {
            set_err(err, errlen, "%s: %s", ifname, (detail && detail[0]) ? detail : pcap_statustostr(st));
        } else if (detail && detail[0] && strcmp(detail, pcap_statustostr(st)) != 0) {
            set_err(err, errlen, "%s: %s (%s)", ifname, pcap_statustostr(st), detail);
        } else {
            set_err(err, errlen, "%s: %s", ifname, pcap_statustostr(st));
        }
        pcap_close(pc);
        return NULL;
    }
    // st > 0 is a warning (e.g. promiscuous mode not supported): carry on.

    int dlt = pcap_datalink(pc);
    if (dlt != DLT_EN10MB) {
        const char *name = pcap_datalink_val_to_name(dlt);
        set_err(err, errlen, "%s: link-layer type %d (%s) is not Ethernet (DLT_EN10MB)",
                ifname, dlt, name ? name : "unknown");
        pcap_close(pc);
        return NULL;
    }
    if (pcap_setdirection(pc, PCAP_D_IN) != 0) {
        set_err(err, errlen, "%s: pcap_setdirection(PCAP_D_IN): %s", ifname, pcap_geterr(pc));
        pcap_close(pc);
        return NULL;
    }
    if (pcap_setnonblock(pc, 1, ebuf) != 0) {
        set_err(err, errlen, "%s: pcap_setnonblock: %s", ifname, ebuf);
        pcap_close(pc);
        return NULL;
    }
    if (opts->filter != NULL && opts->filter[0] != '\0') {
        struct bpf_program prog;
        if (pcap_compile(pc, &prog, opts->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            set_err(err, errlen, "%s: filter \"%s\": %s", ifname, opts->filter, pcap_geterr(pc));
            pcap_close(pc);
            return NULL;
        }
        int r = pcap_setfilter(pc, &prog);
        pcap_freecode(&prog);
        if (r != 0) {
            set_err(err, errlen, "%s: pcap_setfilter: %s", ifname, pcap_geterr(pc));
            pcap_close(pc);
            return NULL;
        }
    }
    int fd = pcap_get_selectable_fd(pc);
    if (fd < 0) {
        set_err(err, errlen, "%s: no selectable fd", ifname);
        pcap_close(pc);
        return NULL;
    }
    // Let the kernel skip outgoing frames (other senders' TX on this interface) instead of
    // copying them into the ring for libpcap to discard. Old kernels: direction filter only.
    int one = 1;
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);

    cpcap_port *p = calloc(1, sizeof *p);
    if (p == NULL) {
        set_err(err, errlen, "%s: %s", ifname, strerror(ENOMEM));
        pcap_close(pc);
        return NULL;
    }
    p->pcap = pc;
    p->fd = fd;
    p->nano = pcap_get_tstamp_precision(pc) == PCAP_TSTAMP_PRECISION_NANO;
    snprintf(p->ifname, sizeof p->ifname, "%s", ifname);
    return p;
}

void cpcap_close(cpcap_port *p) {
    if (p == NULL) return;
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
    uint64_t *ts_ns;
    int n;
    int i;
    int nano;
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
    if (c->ts_ns) {
        uint64_t sub = (uint64_t)h->ts.tv_usec;
        c->ts_ns[i] = (uint64_t)h->ts.tv_sec * 1000000000ull + (c->nano ? sub : sub * 1000ull);
    }
    c->i = i + 1;
}

int cpcap_rx_burst(cpcap_port *p, int n, uint8_t *const *bufs, const uint32_t *caps,
                   uint32_t *lens, uint32_t *wirelens, uint64_t *ts_ns, char *err, size_t errlen) {
    if (p == NULL || p->pcap == NULL) {
        set_err(err, errlen, "port is closed");
        return -1;
    }
    if (n <= 0) return 0;
    rx_ctx c = { bufs, caps, lens, wirelens, ts_ns, n, 0, p->nano };
    int r = pcap_dispatch(p->pcap, n, rx_cb, (u_char *)&c);
    if (r == PCAP_ERROR) {
        set_err(err, errlen, "%s: %s", p->ifname, pcap_geterr(p->pcap));
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

int cpcap_inject(cpcap_port *p, const uint8_t *buf, uint32_t len, int *err_no) {
    int dummy;
    if (err_no == NULL) err_no = &dummy;
    *err_no = 0;
    if (p == NULL || p->pcap == NULL) {
        *err_no = EBADF;
        return -1;
    }
    errno = 0;
    int r = pcap_inject(p->pcap, buf, len);
    if (r < 0) {
        *err_no = errno ? errno : EIO;
        return -1;
    }
    if ((uint32_t)r != len) {
        *err_no = EMSGSIZE;
        return -1;
    }
    return 0;
}

int cpcap_stats(cpcap_port *p, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop, char *err, size_t errlen) {
    if (p == NULL || p->pcap == NULL) {
        set_err(err, errlen, "port is closed");
        return -1;
    }
    struct pcap_stat st;
    memset(&st, 0, sizeof st);
    if (pcap_stats(p->pcap, &st) != 0) {
        set_err(err, errlen, "%s: pcap_stats: %s", p->ifname, pcap_geterr(p->pcap));
        return -1;
    }
    if (recv) *recv = st.ps_recv;
    if (drop) *drop = st.ps_drop;
    if (ifdrop) *ifdrop = st.ps_ifdrop;
    return 0;
}

// ---------------------------------------------------------------------------------------
// Interface facts

static int ctl_socket(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return s;
}

static void ifr_init(struct ifreq *ifr, const char *ifname) {
    memset(ifr, 0, sizeof *ifr);
    snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", ifname);
}

static int read_sys_int(const char *ifname, const char *attr, int *out) {
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/%s", ifname, attr);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[32];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return -1;
    buf[r] = '\0';
    char *end = NULL;
    long v = strtol(buf, &end, 10);
    if (end == buf) return -1;
    *out = (int)v;
    return 0;
}

int cpcap_if_info_get(const char *ifname, cpcap_if_info *out, char *err, size_t errlen) {
    if (out == NULL) {
        set_err(err, errlen, "no output");
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->iflink = -1;
    if (!valid_ifname(ifname, err, errlen)) return -1;
    int s = ctl_socket();
    if (s < 0) {
        set_err(err, errlen, "%s: socket: %s", ifname, strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    ifr_init(&ifr, ifname);
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
        set_err(err, errlen, "%s: %s", ifname, strerror(errno));
        close(s);
        return -1;
    }
    out->ifindex = ifr.ifr_ifindex;

    ifr_init(&ifr, ifname);
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
        set_err(err, errlen, "%s: SIOCGIFHWADDR: %s", ifname, strerror(errno));
        close(s);
        return -1;
    }
    memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);

    ifr_init(&ifr, ifname);
    if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
        set_err(err, errlen, "%s: SIOCGIFMTU: %s", ifname, strerror(errno));
        close(s);
        return -1;
    }
    out->mtu = ifr.ifr_mtu;

    ifr_init(&ifr, ifname);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        set_err(err, errlen, "%s: SIOCGIFFLAGS: %s", ifname, strerror(errno));
        close(s);
        return -1;
    }
    out->up = (ifr.ifr_flags & IFF_UP) ? 1 : 0;
    out->running = (ifr.ifr_flags & IFF_RUNNING) ? 1 : 0;

    struct ethtool_drvinfo di;
    memset(&di, 0, sizeof di);
    di.cmd = ETHTOOL_GDRVINFO;
    ifr_init(&ifr, ifname);
    ifr.ifr_data = (void *)&di;
    if (ioctl(s, SIOCETHTOOL, &ifr) == 0) {
        snprintf(out->driver, sizeof out->driver, "%s", di.driver);
    }
    close(s);

    int link;
    if (read_sys_int(ifname, "iflink", &link) == 0) out->iflink = link;
    return 0;
}

static int ethtool_get(int s, const char *ifname, uint32_t cmd, uint32_t *val) {
    struct ethtool_value ev;
    memset(&ev, 0, sizeof ev);
    ev.cmd = cmd;
    struct ifreq ifr;
    ifr_init(&ifr, ifname);
    ifr.ifr_data = (void *)&ev;
    if (ioctl(s, SIOCETHTOOL, &ifr) < 0) return -1;
    *val = ev.data;
    return 0;
}

int cpcap_offloads_get(const char *ifname, cpcap_offloads *out, char *err, size_t errlen) {
    if (out == NULL) {
        set_err(err, errlen, "no output");
        return -1;
    }
    out->rx_csum = out->tx_csum = out->tso = out->gso = -1;
    out->gro = out->lro = out->rx_vlan = out->tx_vlan = -1;
    if (!valid_ifname(ifname, err, errlen)) return -1;
    int s = ctl_socket();
    if (s < 0) {
        set_err(err, errlen, "%s: socket: %s", ifname, strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    ifr_init(&ifr, ifname);
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
        set_err(err, errlen, "%s: %s", ifname, strerror(errno));
        close(s);
        return -1;
    }
    uint32_t v;
    if (ethtool_get(s, ifname, ETHTOOL_GRXCSUM, &v) == 0) out->rx_csum = v ? 1 : 0;
    if (ethtool_get(s, ifname, ETHTOOL_GTXCSUM, &v) == 0) out->tx_csum = v ? 1 : 0;
    if (ethtool_get(s, ifname, ETHTOOL_GTSO, &v) == 0) out->tso = v ? 1 : 0;
    if (ethtool_get(s, ifname, ETHTOOL_GGSO, &v) == 0) out->gso = v ? 1 : 0;
    if (ethtool_get(s, ifname, ETHTOOL_GGRO, &v) == 0) out->gro = v ? 1 : 0;
    if (ethtool_get(s, ifname, ETHTOOL_GFLAGS, &v) == 0) {
        out->lro = (v & ETH_FLAG_LRO) ? 1 : 0;
        out->rx_vlan = (v & ETH_FLAG_RXVLAN) ? 1 : 0;
        out->tx_vlan = (v & ETH_FLAG_TXVLAN) ? 1 : 0;
    }
    close(s);
    return 0;
}

int cpcap_list_interfaces(char *buf, size_t buflen) {
    if (buf == NULL || buflen == 0) return -1;
    buf[0] = '\0';
    struct if_nameindex *ni = if_nameindex();
    if (ni == NULL) return -1;
    size_t used = 0;
    int count = 0;
    int fits = 1;
    for (struct if_nameindex *it = ni; it->if_index != 0 && it->if_name != NULL; it++) {
        size_t len = strlen(it->if_name);
        size_t need = len + (count ? 1 : 0);
        if (used + need + 1 > buflen) {
            fits = 0;
            break;
        }
        if (count) buf[used++] = ' ';
        memcpy(buf + used, it->if_name, len);
        used += len;
        buf[used] = '\0';
        count++;
    }
    if_freenameindex(ni);
    return fits ? count : -1;
}

int cpcap_if_name(int ifindex, char *name, size_t len) {
    if (name == NULL || len == 0 || ifindex <= 0) return -1;
    char tmp[IF_NAMESIZE];
    if (if_indextoname((unsigned int)ifindex, tmp) == NULL) return -1;
    if (strlen(tmp) + 1 > len) return -1;
    memcpy(name, tmp, strlen(tmp) + 1);
    return 0;
}

const char *cpcap_lib_version(void) {
    return pcap_lib_version();
}
