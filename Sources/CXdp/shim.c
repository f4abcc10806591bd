// CXdp: the AF_XDP port. See include/CXdp.h.
#define _GNU_SOURCE
#include "CXdp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

// Frame states (one byte per frame). RX partition frames: kernel -> held (in a head) -> sending
// (on a TX ring, zero-copy) or stash (given back) -> kernel. TX partition frames (copies of
// heads with buffers of their own): free -> kernel -> free.
enum { ST_RX_KERNEL = 1, ST_RX_HELD = 2, ST_TX_FREE = 3, ST_TX_KERNEL = 4, ST_RX_SENDING = 5, ST_RX_STASH = 6 };

typedef struct {
    struct xsk_socket *xsk;
    int fd;
    int ifindex;
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
    uint64_t rx_frames, tx_frames, tx_copied, tx_completed, recycled, filtered, kick_errors;
} side_t;

struct cxdp_pair {
    void *area;
    size_t area_len;
    uint32_t frame_size;
    uint32_t ring;            // ring and partition size
    uint32_t frames;
    int zero_copy;
    uint8_t *state;           // one per frame
    uint64_t violations;
    struct xsk_umem *umem;
    side_t side[2];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int quiet_libbpf(enum libbpf_print_level l, const char *f, va_list ap) { (void)l; (void)f; (void)ap; return 0; }
static int quiet_libxdp(enum libxdp_print_level l, const char *f, va_list ap) { (void)l; (void)f; (void)ap; return 0; }

static void silence(void) {
    static int done;
    if (done) return;
    done = 1;
    libbpf_set_print(quiet_libbpf);
    libxdp_set_print(quiet_libxdp);
}

static int possible_ifname(const char *ifname) {
    return ifname != NULL && ifname[0] != '\0' && strlen(ifname) < IF_NAMESIZE && strchr(ifname, '/') == NULL
        && strcmp(ifname, ".") != 0 && strcmp(ifname, "..") != 0;
}

// ---------------------------------------------------------------------------------------
// Interface facts

int cxdp_driver(const char *ifname, char *buf, size_t len) {
    if (!possible_ifname(ifname)) return ENODEV;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    struct ethtool_drvinfo info;
    memset(&info, 0, sizeof info);
    info.cmd = ETHTOOL_GDRVINFO;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = (void *)&info;
    int r = ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? 0 : errno;
    close(fd);
    if (r == 0 && buf != NULL && len > 0) snprintf(buf, len, "%s", info.driver);
    return r;
}

int cxdp_rx_queues(const char *ifname) {
    if (!possible_ifname(ifname)) return -1;
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/queues", ifname);
    DIR *d = opendir(path);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "rx-", 3) == 0) n++;
    closedir(d);
    return n;
}

static int program_name(uint32_t id, char *name, size_t namelen) {
    if (name == NULL || namelen == 0) return -1;
    name[0] = '\0';
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return -1;
    struct bpf_prog_info info;
    uint32_t len = sizeof info;
    memset(&info, 0, sizeof info);
    int r = bpf_obj_get_info_by_fd(fd, &info, &len);
    close(fd);
    if (r != 0) return -1;
    snprintf(name, namelen, "%s", info.name);
    return 0;
}

// The attached program's id (any mode), 0 when none, -errno.
static int query_program(int ifindex, uint32_t *id) {
    struct bpf_xdp_query_opts q;
    memset(&q, 0, sizeof q);
    q.sz = sizeof q;
    int r = bpf_xdp_query(ifindex, 0, &q);
    if (r != 0) return r < 0 ? r : -r;
    *id = q.prog_id ? q.prog_id : q.skb_prog_id ? q.skb_prog_id : q.drv_prog_id ? q.drv_prog_id : q.hw_prog_id;
    return 0;
}

int cxdp_attached_program(const char *ifname, uint32_t *prog_id, char *name, size_t namelen) {
    silence();
    if (name && namelen) name[0] = '\0';
    int ifindex = possible_ifname(ifname) ? (int)if_nametoindex(ifname) : 0;
    if (ifindex == 0) { set_err(name, namelen, "no such interface"); return -1; }
    uint32_t id = 0;
    int r = query_program(ifindex, &id);
    if (r < 0) { set_err(name, namelen, "bpf_xdp_query: %s", strerror(-r)); return -1; }
    if (prog_id) *prog_id = id;
    if (id == 0) return 0;
    program_name(id, name, namelen);
    return 1;
}

// ---------------------------------------------------------------------------------------
// Markers: which program this process attached, so that the next start can tell a crashed
// run's leftover (its process is gone) from another user's program.

unsigned long long cxdp_process_start(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');  // the command may hold spaces and parentheses
    if (p == NULL) return 0;
    // After ") ": state(3) ... starttime is field 22.
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ') field++;
    return strtoull(p, NULL, 10);
}

static int marker_path(int ifindex, char *path, size_t len) {
    struct stat st;
    if (stat("/proc/self/ns/net", &st) != 0) st.st_ino = 0;
    return snprintf(path, len, "/run/forwarder/xdp/%llu-%d", (unsigned long long)st.st_ino, ifindex) < (int)len ? 0 : -1;
}

static void write_marker(int ifindex, uint32_t prog_id) {
    char path[128], tmp[160], line[128];
    if (marker_path(ifindex, path, sizeof path) != 0) return;
    mkdir("/run/forwarder", 0755);
    mkdir("/run/forwarder/xdp", 0755);
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    int n = snprintf(line, sizeof line, "%d %llu %u\n", (int)getpid(), cxdp_process_start(getpid()), prog_id);
    ssize_t w = write(fd, line, (size_t)n);
    close(fd);
    if (w == n) rename(tmp, path); else unlink(tmp);
}

// The programs this process attached, by interface: the marker's twin in memory, for when the
// marker cannot be written (not root: /run/forwarder is root's), so that this process still
// detaches what it attached at its stop or failed start. open/close are single-threaded.
static struct { int ifindex; uint32_t prog_id; } attached[32];

static void remember_attached(int ifindex, uint32_t prog_id) {
    int free_slot = -1;
    for (int i = 0; i < 32; i++) {
        if (attached[i].ifindex == ifindex) { attached[i].prog_id = prog_id; return; }
        if (attached[i].ifindex == 0 && free_slot < 0) free_slot = i;
    }
    if (free_slot >= 0) { attached[free_slot].ifindex = ifindex; attached[free_slot].prog_id = prog_id; }
}

// The program this process attached to ifindex (0: none), forgotten when `forget`.
static uint32_t attached_here(int ifindex, int forget) {
    for (int i = 0; i < 32; i++) {
        if (attached[i].ifindex != ifindex) continue;
        uint32_t id = attached[i].prog_id;
        if (forget) attached[i].ifindex = 0;
        return id;
    }
    return 0;
}

// 0 with the marker's fields, -1 when there is none (or it is unreadable).
static int read_marker(int ifindex, int *pid, unsigned long long *start, uint32_t *prog_id) {
    char path[128], buf[128];
    if (marker_path(ifindex, path, sizeof path) != 0) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    return sscanf(buf, "%d %llu %u", pid, start, prog_id) == 3 ? 0 : -1;
}

static void remove_marker(int ifindex) {
    char path[128];
    if (marker_path(ifindex, path, sizeof path) == 0) unlink(path);
}

static int process_alive(int pid, unsigned long long start) {
    if (pid <= 0) return 0;
    if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
    unsigned long long now = cxdp_process_start(pid);
    return now != 0 && now == start;  // same pid, same start time: the same process
}

// Detaches whatever XDP program is on ifindex: libxdp's way first (it knows its dispatcher
// and unpins it), then the plain netlink detach for each mode. 0 or -errno.
static int detach_all(int ifindex) {
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
    int r = -ENOENT;
    if (mp != NULL && libxdp_get_error(mp) == 0) {
        r = xdp_multiprog__detach(mp);
        xdp_multiprog__close(mp);
    }
    uint32_t id = 0;
    if (query_program(ifindex, &id) == 0 && id != 0) {
        bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
        bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
        if (query_program(ifindex, &id) == 0 && id != 0) return r < 0 ? r : -EBUSY;
    }
    return 0;
}

// Markers of this network namespace whose process is gone and whose interface has no program
// any more (or is gone): removed, so that /run/forwarder/xdp does not fill up.
static void sweep_markers(void) {
    struct stat st;
    if (stat("/proc/self/ns/net", &st) != 0) return;
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "%llu-", (unsigned long long)st.st_ino);
    DIR *d = opendir("/run/forwarder/xdp");
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, (size_t)plen) != 0 || strchr(e->d_name, '.') != NULL) continue;
        int ifindex = atoi(e->d_name + plen), pid = 0;
        unsigned long long start = 0;
        uint32_t marked = 0, id = 0;
        if (ifindex <= 0 || read_marker(ifindex, &pid, &start, &marked) != 0 || process_alive(pid, start)) continue;
        char name[IF_NAMESIZE];
        if (if_indextoname((unsigned)ifindex, name) == NULL || (query_program(ifindex, &id) == 0 && id != marked))
            remove_marker(ifindex);
    }
    closedir(d);
}

cxdp_status cxdp_prepare_interface(const char *ifname, uint32_t *removed, char *err, size_t errlen) {
    silence();
    sweep_markers();
    if (removed) *removed = 0;
    int ifindex = possible_ifname(ifname) ? (int)if_nametoindex(ifname) : 0;
    if (ifindex == 0) { set_err(err, errlen, "no such interface"); return CXDP_NO_SUCH_DEVICE; }
    uint32_t id = 0;
    int r = query_program(ifindex, &id);
    if (r < 0) { set_err(err, errlen, "bpf_xdp_query: %s", strerror(-r)); return CXDP_OTHER; }
    int pid = 0;
    unsigned long long start = 0;
    uint32_t marked = 0;
    int have_marker = read_marker(ifindex, &pid, &start, &marked) == 0;
    if (id == 0) {
        if (have_marker && !process_alive(pid, start)) remove_marker(ifindex);
        return CXDP_OK;
    }
    char name[64];
    program_name(id, name, sizeof name);
    if (have_marker && marked == id && !process_alive(pid, start)) {
        r = detach_all(ifindex);
        if (r != 0) {
            set_err(err, errlen, "cannot detach the XDP program (id %u, %s) a crashed forwarder (pid %d) left: %s",
                    id, name[0] ? name : "?", pid, strerror(-r));
            return r == -EPERM || r == -EACCES ? CXDP_PERMISSION_DENIED : CXDP_OTHER;
        }
        remove_marker(ifindex);
        if (removed) *removed = id;
        return CXDP_OK;
    }
    if (have_marker && marked == id)
        set_err(err, errlen, "another XDP program is attached (id %u, %s): forwarder pid %d is using the interface",
                id, name[0] ? name : "?", pid);
    else
        set_err(err, errlen, "another XDP program is attached (id %u, %s)%s", id, name[0] ? name : "name unknown",
                strcmp(name, "xdp_dispatcher") == 0 || strcmp(name, "xsk_def_prog") == 0
                    ? ": libxdp's, perhaps another AF_XDP program's" : "");
    return CXDP_PROGRAM_PRESENT;
}

int cxdp_release_interface(const char *ifname, int owner_pid, unsigned long long owner_start, char *err, size_t errlen) {
    silence();
    int ifindex = possible_ifname(ifname) ? (int)if_nametoindex(ifname) : 0;
    if (ifindex == 0) return 0;  // gone: nothing attached any more
    int pid = 0;
    unsigned long long start = 0;
    uint32_t marked = 0;
    int self = owner_pid == (int)getpid();
    uint32_t mine = self ? attached_here(ifindex, 1) : 0;
    if (read_marker(ifindex, &pid, &start, &marked) != 0 || pid != owner_pid || start != owner_start) {
        if (mine == 0) return 0;
        marked = mine;   // no marker of ours (it could not be written): the memory says what we attached
    }
    uint32_t id = 0;
    if (query_program(ifindex, &id) == 0 && id != 0 && id == marked) {
        int r = detach_all(ifindex);
        if (r != 0) {
            set_err(err, errlen, "cannot detach the XDP program (id %u): %s", id, strerror(-r));
            return -1;
        }
    }
    remove_marker(ifindex);
    return 0;
}

// The release guard's process: the read end of a new pipe on guard_fd, /dev/null on 0 and 1,
// stderr kept, every other descriptor closed (closefrom), SIGINT/SIGTERM/SIGHUP/SIGPIPE blocked
// until it has ignored them (no window where a Ctrl-C kills it). The write end stays here, with
// O_CLOEXEC.
int cxdp_spawn_release_guard(char *const argv[], int guard_fd, int *pid, int *write_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    // dup2 first: the read end may be 0 or 1 when those were closed. glibc clears O_CLOEXEC
    // when the read end already is guard_fd.
    posix_spawn_file_actions_adddup2(&actions, fds[0], guard_fd);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&actions, guard_fd + 1);
    sigset_t blocked;
    sigemptyset(&blocked);
    int stops[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) sigaddset(&blocked, stops[i]);
    posix_spawnattr_setsigmask(&attr, &blocked);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    extern char **environ;
    pid_t child = 0;
    int r = posix_spawn(&child, "/proc/self/exe", &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[0]);
    if (r != 0) { close(fds[1]); return r; }
    *pid = (int)child;
    *write_fd = fds[1];
    return 0;
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

static cxdp_status errno_status(int e, int zero_copy) {
    switch (e) {
    case EPERM: case EACCES: return CXDP_PERMISSION_DENIED;
    case ENODEV: case ENXIO: return CXDP_NO_SUCH_DEVICE;
    case EBUSY: return CXDP_BUSY;
    case EEXIST: return CXDP_PROGRAM_PRESENT;
    case ENETDOWN: return CXDP_INTERFACE_DOWN;
    case EOPNOTSUPP: return CXDP_MODE_UNSUPPORTED;
    case EINVAL: return zero_copy ? CXDP_MODE_UNSUPPORTED : CXDP_OTHER;
    default: return CXDP_OTHER;
    }
}

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

// One socket on ifname sharing the UMEM; retries EBUSY (the kernel frees a previous socket's
// buffer pool from a workqueue) for 2 s.
static int create_socket(cxdp_pair *p, side_t *s, const char *ifname, const cxdp_options *o, int mode) {
    struct xsk_socket_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rx_size = p->ring;
    cfg.tx_size = p->ring;
    cfg.xdp_flags = mode == CXDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    cfg.bind_flags = XDP_USE_NEED_WAKEUP | (o->zero_copy ? XDP_ZEROCOPY : XDP_COPY);
    int r = 0;
    uint32_t before = 0, id = 0;
    if (query_program(s->ifindex, &before) != 0) before = 0;
    for (int attempt = 0; attempt < 40; attempt++) {
        r = xsk_socket__create_shared(&s->xsk, ifname, o->queue, p->umem, &s->rx, &s->tx, &s->fq, &s->cq, &cfg);
        if (r != -EBUSY) break;
        s->xsk = NULL;
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    int ours = query_program(s->ifindex, &id) == 0 && id != 0 && (id != before || attached_here(s->ifindex, 0) == id);
    if (r != 0) {
        s->xsk = NULL;
        // libxdp can fail after attaching its program (without CAP_SYS_ADMIN it cannot look the
        // program up by id): one this call attached goes again, so a failed start leaves nothing.
        if (ours && before == 0) {
            detach_all(s->ifindex);
            attached_here(s->ifindex, 1);
        }
        return r;
    }
    s->fd = xsk_socket__fd(s->xsk);
    s->mode = mode;
    if (ours) {
        remember_attached(s->ifindex, id);
        write_marker(s->ifindex, id);
    }
    return 0;
}

static const char *mode_name(int mode) { return mode == CXDP_MODE_NATIVE ? "native" : "generic"; }

cxdp_status cxdp_open_pair(const char *if0, const char *if1, const cxdp_options *opts, cxdp_pair **pair,
                           int *failed_side, char *err, size_t errlen) {
    silence();
    if (failed_side) *failed_side = -1;
    if (pair == NULL || opts == NULL) { set_err(err, errlen, "no place for the pair"); return CXDP_OTHER; }
    *pair = NULL;
    const char *names[2] = { if0, if1 };
    cxdp_pair *p = calloc(1, sizeof *p);
    if (p == NULL) { set_err(err, errlen, "%s", strerror(ENOMEM)); return CXDP_OTHER; }
    p->ring = opts->ring_size ? opts->ring_size : 1024;
    p->frame_size = opts->frame_size ? opts->frame_size : 2048;
    p->zero_copy = opts->zero_copy;
    if ((p->ring & (p->ring - 1)) != 0 || p->ring < 64 || (p->frame_size != 2048 && p->frame_size != 4096)) {
        free(p);
        set_err(err, errlen, "ring size %u (a power of two >= 64) or frame size %u (2048 or 4096) invalid", p->ring, p->frame_size);
        return CXDP_OTHER;
    }
    for (int i = 0; i < 2; i++) {
        p->side[i].ifindex = possible_ifname(names[i]) ? (int)if_nametoindex(names[i]) : 0;
        if (p->side[i].ifindex == 0) {
            set_err(err, errlen, "no such interface");
            if (failed_side) *failed_side = i;
            free(p);
            return CXDP_NO_SUCH_DEVICE;
        }
        int queues = cxdp_rx_queues(names[i]);
        if (queues >= 0 && opts->queue >= (uint32_t)queues) {
            set_err(err, errlen, "queue %u does not exist: the interface has %d RX queue%s (0..%d)",
                    opts->queue, queues, queues == 1 ? "" : "s", queues - 1);
            if (failed_side) *failed_side = i;
            free(p);
            return CXDP_NO_SUCH_QUEUE;
        }
    }
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
        set_err(err, errlen, "cannot allocate the UMEM (%zu bytes): %s", p->frames * (size_t)p->frame_size, strerror(ENOMEM));
        return CXDP_OTHER;
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
        int e = -r;
        if (e == ENOBUFS || e == ENOMEM) {
            set_err(err, errlen, "cannot register the UMEM (%zu KiB): %s (RLIMIT_MEMLOCK)", p->area_len / 1024, strerror(e));
            return CXDP_MEMLOCK;
        }
        set_err(err, errlen, "cannot create the UMEM: %s%s", strerror(e),
                e == EAFNOSUPPORT ? " (the kernel has no AF_XDP: CONFIG_XDP_SOCKETS)" : "");
        return e == EPERM || e == EACCES ? CXDP_PERMISSION_DENIED : CXDP_OTHER;
    }
    for (int i = 0; i < 2; i++) {
        side_t *s = &p->side[i];
        int mode = opts->mode;
        if (mode == CXDP_MODE_AUTO) {
            char driver[64] = "";
            cxdp_driver(names[i], driver, sizeof driver);
            mode = strcmp(driver, "veth") == 0 && !opts->zero_copy && opts->queue_count <= 1 ? CXDP_MODE_GENERIC
                                                                                            : CXDP_MODE_NATIVE;
        }
        r = create_socket(p, s, names[i], opts, mode);
        if (r == -EOPNOTSUPP && opts->mode == CXDP_MODE_AUTO && mode == CXDP_MODE_NATIVE && !opts->zero_copy) {
            mode = CXDP_MODE_GENERIC;
            r = create_socket(p, s, names[i], opts, mode);
        }
        if (r != 0) {
            int e = -r;
            cxdp_status st = errno_status(e, opts->zero_copy);
            const char *what = e == EPERM || e == EACCES ? " (creating the socket needs CAP_NET_RAW; loading and "
                "attaching the XDP program CAP_BPF and CAP_NET_ADMIN)"
                : e == ENOENT && geteuid() != 0 ? " (not root: libxdp also needs CAP_SYS_ADMIN, to look its program "
                "up by id)" : "";
            if (st == CXDP_MODE_UNSUPPORTED && opts->zero_copy)
                set_err(err, errlen, "zero-copy AF_XDP refused: %s (the driver has no zero-copy support)", strerror(e));
            else if (st == CXDP_MODE_UNSUPPORTED)
                set_err(err, errlen, "%s XDP refused: %s (the driver does not support it)", mode_name(mode), strerror(e));
            else if (st == CXDP_BUSY)
                set_err(err, errlen, "queue %u: %s for 2 s (another AF_XDP socket has the queue)", opts->queue, strerror(e));
            else
                set_err(err, errlen, "cannot create the AF_XDP socket (%s mode, queue %u): %s%s", mode_name(mode),
                        opts->queue, strerror(e), what);
            if (failed_side) *failed_side = i;
            free_pair(p);
            return st;
        }
        // The partitions: RX frames go into the fill ring now, TX frames onto the free stack.
        s->rx_first = (uint32_t)i * 2 * p->ring;
        s->tx_first = s->rx_first + p->ring;
        for (uint32_t f = 0; f < p->ring; f++) {
            p->state[s->rx_first + f] = ST_RX_STASH;
            s->rx_stash[s->rx_stash_n++] = (uint64_t)(s->rx_first + f) * p->frame_size;
            p->state[s->tx_first + f] = ST_TX_FREE;
            s->tx_free[s->tx_free_n++] = (uint64_t)(s->tx_first + p->ring - 1 - f) * p->frame_size;
        }
        refill(p, s);
    }
    *pair = p;
    return CXDP_OK;
}

int cxdp_frame_census(const cxdp_pair *p, cxdp_census *out, char *err, size_t errlen) {
    cxdp_census c;
    memset(&c, 0, sizeof c);
    if (p == NULL) { set_err(err, errlen, "no pair"); return -1; }
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
            set_err(err, errlen, "side %d: states rx-kernel %u rx-held %u rx-sending %u rx-stash %u tx-free %u tx-kernel %u "
                    "(%u foreign), counters %u %u %u %u %u %u, partition %u", i, c.rx_kernel[i], c.rx_held[i],
                    c.rx_sending[i], c.rx_stash[i], c.tx_free[i], c.tx_kernel[i], wrong, s->rx_kernel, s->rx_held,
                    s->rx_sending, s->rx_stash_n, s->tx_free_n, s->tx_kernel, p->ring);
            return -1;
        }
    }
    if (c.violations) { set_err(err, errlen, "%llu wrong frame transitions refused", (unsigned long long)c.violations); return -1; }
    return 0;
}

void cxdp_close_pair(cxdp_pair *p, int timeout_ms, cxdp_census *final) {
    if (p == NULL) return;
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

// ---------------------------------------------------------------------------------------
// Bursts

int cxdp_rx_frames(cxdp_pair *p, int side, int n, uint64_t *frames, uint32_t *offsets, uint32_t *lens,
                   char *err, size_t errlen) {
    if (p == NULL || (side != 0 && side != 1) || n < 0) { set_err(err, errlen, "bad arguments"); return -1; }
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
    // also how a socket the kernel unbound (its interface deleted: ENXIO) is noticed.
    if (got == 0 && (xsk_ring_prod__needs_wakeup(&s->fq) || (++s->empty & 7) == 0)
        && recvfrom(s->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) < 0 && (errno == ENXIO || errno == ENODEV)) {
        s->gone = ENXIO;
        set_err(err, errlen, "the interface is gone (the kernel unbound the AF_XDP socket: %s)", strerror(errno));
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
    if (p == NULL || (side != 0 && side != 1) || out == NULL) { set_err(err, errlen, "bad arguments"); return -1; }
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
        set_err(err, errlen, "XDP_STATISTICS: %s", strerror(errno));
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

const char *cxdp_lib_version(void) {
    static char v[64];
    if (v[0] == '\0') snprintf(v, sizeof v, "libxdp (xsk), libbpf %d.%d", LIBBPF_MAJOR_VERSION, LIBBPF_MINOR_VERSION);
    return v;
}

int cxdp_guard_limit_capabilities(void) {
    const int keep[] = { CAP_NET_ADMIN, CAP_SYS_ADMIN, 39 /* CAP_BPF, newer than some headers */ };
    uint64_t mask = 0;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) mask |= 1ULL << keep[i];
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return errno;
    uint64_t effective = ((uint64_t)data[1].effective << 32) | data[0].effective;
    int failed = 0;
    // The bounding set first: dropping from it needs CAP_SETPCAP, which the capset below gives up.
    for (int cap = 0; cap <= 63; cap++) {
        if ((mask >> cap) & 1) continue;
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && !failed) failed = errno;
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    uint64_t kept = effective & mask;
    for (int i = 0; i < 2; i++) {
        data[i].effective = data[i].permitted = (uint32_t)(kept >> (32 * i));
        data[i].inheritable = 0;
    }
    if (syscall(SYS_capset, &header, data) != 0 && !failed) failed = errno;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 && !failed) failed = errno;
    return failed;
}
