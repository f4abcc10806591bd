// cfwd: minimal C libpcap reference forwarder for the I/O benchmark.
//   cfwd IN OUT [--inject|--sendmmsg] [--duration S] [--one-way]
// Immediate mode, PCAP_D_IN, nonblocking, poll(); per wakeup one pcap_dispatch burst of up to
// 32 frames is copied into a buffer, then sent with pcap_inject per frame (--inject) or one
// sendmmsg(MSG_DONTWAIT) per burst (--sendmmsg, default). Two-way: one thread per direction.
// Frames the kernel refuses are dropped and counted. Totals on stdout at exit.
// Build: cc -O2 -o cfwd bench/io/cfwd.c -lpcap -lpthread
#define _GNU_SOURCE
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BURST 32
#define SNAP 2048

static volatile sig_atomic_t stop;
static int use_inject;
static double duration;   // 0 = until signalled

typedef struct {
    pcap_t *in, *out;
    int infd, outfd;
    const char *name;
    unsigned long long rx, tx, drop;
    int n;
    uint32_t len[BURST];
    uint8_t buf[BURST][SNAP];
} dir_t;

static void on_sig(int s) { (void)s; stop = 1; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
    dir_t *d = (dir_t *)user;
    uint32_t len = h->caplen < SNAP ? h->caplen : SNAP;
    memcpy(d->buf[d->n], bytes, len);
    d->len[d->n++] = len;
}

static void send_burst(dir_t *d) {
    if (use_inject) {
        for (int i = 0; i < d->n; i++) {
            if (pcap_inject(d->out, d->buf[i], d->len[i]) < 0) d->drop++;
            else d->tx++;
        }
        return;
    }
    struct mmsghdr m[BURST];
    struct iovec iov[BURST];
    memset(m, 0, sizeof m);
    for (int i = 0; i < d->n; i++) {
        iov[i].iov_base = d->buf[i];
        iov[i].iov_len = d->len[i];
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    int off = 0;
    while (off < d->n) {
        int r = sendmmsg(d->outfd, m + off, d->n - off, MSG_DONTWAIT);
        if (r > 0) { off += r; d->tx += r; continue; }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EMSGSIZE) { d->drop++; off++; continue; }   // skip the one frame
        d->drop += d->n - off;                                              // EAGAIN, ENOBUFS, ...
        break;
    }
}

static void *run(void *arg) {
    dir_t *d = arg;
    double end = duration > 0 ? now_s() + duration : 0;
    struct pollfd pf = { d->infd, POLLIN, 0 };
    while (!stop) {
        if (end > 0 && now_s() >= end) { stop = 1; break; }
        if (poll(&pf, 1, 100) < 0 && errno != EINTR) { perror("poll"); stop = 1; break; }
        d->n = 0;
        int r = pcap_dispatch(d->in, BURST, cb, (u_char *)d);
        if (r < 0) { fprintf(stderr, "cfwd: %s: %s\n", d->name, pcap_geterr(d->in)); stop = 1; break; }
        d->rx += d->n;
        if (d->n > 0) send_burst(d);
    }
    return NULL;
}

static pcap_t *open_port(const char *dev) {
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_create(dev, eb);
    if (!p) { fprintf(stderr, "cfwd: %s: %s\n", dev, eb); exit(1); }
    pcap_set_snaplen(p, SNAP);
    pcap_set_promisc(p, 1);
    pcap_set_immediate_mode(p, 1);
    int st = pcap_activate(p);
    if (st < 0) { fprintf(stderr, "cfwd: %s: %s %s\n", dev, pcap_statustostr(st), pcap_geterr(p)); exit(1); }
    if (pcap_setdirection(p, PCAP_D_IN) < 0 || pcap_setnonblock(p, 1, eb) < 0) {
        fprintf(stderr, "cfwd: %s: setdirection/nonblock failed\n", dev);
        exit(1);
    }
    return p;
}

int main(int argc, char **argv) {
    const char *ifs[2] = { NULL, NULL };
    int one_way = 0, nif = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--inject")) use_inject = 1;
        else if (!strcmp(argv[i], "--sendmmsg")) use_inject = 0;
        else if (!strcmp(argv[i], "--one-way")) one_way = 1;
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc) duration = atof(argv[++i]);
        else if (argv[i][0] != '-' && nif < 2) ifs[nif++] = argv[i];
        else { fprintf(stderr, "usage: cfwd IN OUT [--inject|--sendmmsg] [--duration S] [--one-way]\n"); return 2; }
    }
    if (nif != 2) { fprintf(stderr, "usage: cfwd IN OUT [--inject|--sendmmsg] [--duration S] [--one-way]\n"); return 2; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;   // no SA_RESTART: poll returns EINTR
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pcap_t *a = open_port(ifs[0]), *b = open_port(ifs[1]);
    static dir_t d[2];
    d[0] = (dir_t){ .in = a, .out = b, .infd = pcap_get_selectable_fd(a), .outfd = pcap_get_selectable_fd(b), .name = ifs[0] };
    d[1] = (dir_t){ .in = b, .out = a, .infd = pcap_get_selectable_fd(b), .outfd = pcap_get_selectable_fd(a), .name = ifs[1] };
    pthread_t t;
    if (!one_way && pthread_create(&t, NULL, run, &d[1]) != 0) { perror("pthread_create"); return 1; }
    run(&d[0]);
    if (!one_way) pthread_join(t, NULL);
    printf("cfwd %s: %s->%s rx %llu tx %llu drop %llu", use_inject ? "inject" : "sendmmsg",
           ifs[0], ifs[1], d[0].rx, d[0].tx, d[0].drop);
    if (!one_way) printf("; %s->%s rx %llu tx %llu drop %llu", ifs[1], ifs[0], d[1].rx, d[1].tx, d[1].drop);
    printf("; total rx %llu tx %llu\n", d[0].rx + d[1].rx, d[0].tx + d[1].tx);
    pcap_close(a);
    pcap_close(b);
    return 0;
}
