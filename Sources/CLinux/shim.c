// CLinux: netdev facts, thread naming, least privilege. See include/CLinux.h.
#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

// ifreq takes 15 characters and cuts the rest, and sysfs paths must stay inside /sys/class/net.
static int possible_ifname(const char *ifname) {
    if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= IF_NAMESIZE) return 0;
    return strchr(ifname, '/') == NULL && strcmp(ifname, ".") != 0 && strcmp(ifname, "..") != 0;
}

// Any socket takes the netdev ioctls; AF_INET is there unless IPv4 is compiled out.
static int ctl_socket(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return s;
}

// The one ifreq ioctl every netdev fact goes through: ifr is filled with the name (and data,
// for SIOCETHTOOL) and holds the kernel's answer afterwards. 0, or the errno value.
static int if_ioctl(const char *ifname, unsigned long request, struct ifreq *ifr, void *data) {
    if (!possible_ifname(ifname)) return ENODEV;
    memset(ifr, 0, sizeof *ifr);
    snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", ifname);
    if (data != NULL) ifr->ifr_data = data;
    int s = ctl_socket();
    if (s < 0) return errno;
    int rc = ioctl(s, request, ifr) < 0 ? errno : 0;
    close(s);
    return rc;
}

// SIOCGIFINDEX and SIOCGIFMTU both answer with one int of the ifreq.
static int if_int(const char *ifname, unsigned long request, int *value) {
    struct ifreq ifr;
    int rc = if_ioctl(ifname, request, &ifr, NULL);
    if (rc == 0) *value = request == SIOCGIFMTU ? ifr.ifr_mtu : ifr.ifr_ifindex;
    return rc;
}

int clinux_if_index(const char *ifname, int *index) { return if_int(ifname, SIOCGIFINDEX, index); }

int clinux_if_mtu(const char *ifname, int *mtu) { return if_int(ifname, SIOCGIFMTU, mtu); }

int clinux_if_mac(const char *ifname, uint8_t mac[6]) {
    struct ifreq ifr;
    int rc = if_ioctl(ifname, SIOCGIFHWADDR, &ifr, NULL);
    if (rc == 0) memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return rc;
}

int clinux_if_flags(const char *ifname, int *up, int *running) {
    struct ifreq ifr;
    int rc = if_ioctl(ifname, SIOCGIFFLAGS, &ifr, NULL);
    if (rc != 0) return rc;
    *up = (ifr.ifr_flags & IFF_UP) ? 1 : 0;
    *running = (ifr.ifr_flags & IFF_RUNNING) ? 1 : 0;
    return 0;
}

int clinux_if_driver(const char *ifname, char *driver, size_t len) {
    if (driver == NULL || len == 0) return EINVAL;
    driver[0] = '\0';
    struct ethtool_drvinfo di;
    memset(&di, 0, sizeof di);
    di.cmd = ETHTOOL_GDRVINFO;
    struct ifreq ifr;
    int rc = if_ioctl(ifname, SIOCETHTOOL, &ifr, &di);
    if (rc == EOPNOTSUPP) return 0;
    if (rc == 0) snprintf(driver, len, "%s", di.driver);
    return rc;
}

int clinux_if_iflink(const char *ifname, int *iflink) {
    if (!possible_ifname(ifname)) return ENODEV;
    char path[64];
    snprintf(path, sizeof path, "/sys/class/net/%s/iflink", ifname);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? ENODEV : errno;
    char buf[32];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    int rc = r < 0 ? errno : 0;
    close(fd);
    if (rc != 0) return rc;
    buf[r > 0 ? r : 0] = '\0';
    char *end = NULL;
    long v = strtol(buf, &end, 10);
    if (end == buf) return EINVAL;
    *iflink = (int)v;
    return 0;
}

// One legacy ethtool get: 1 on, 0 off, -1 when the driver does not answer.
static int ethtool_flag(const char *ifname, uint32_t cmd, uint32_t mask) {
    struct ethtool_value ev;
    memset(&ev, 0, sizeof ev);
    ev.cmd = cmd;
    struct ifreq ifr;
    if (if_ioctl(ifname, SIOCETHTOOL, &ifr, &ev) != 0) return -1;
    return (ev.data & mask) ? 1 : 0;
}

int clinux_if_offloads(const char *ifname, clinux_offloads *out) {
    int index;
    int rc = clinux_if_index(ifname, &index);
    if (rc != 0) return rc;
    out->rx_csum = ethtool_flag(ifname, ETHTOOL_GRXCSUM, ~0u);
    out->tx_csum = ethtool_flag(ifname, ETHTOOL_GTXCSUM, ~0u);
    out->tso = ethtool_flag(ifname, ETHTOOL_GTSO, ~0u);
    out->gso = ethtool_flag(ifname, ETHTOOL_GGSO, ~0u);
    out->gro = ethtool_flag(ifname, ETHTOOL_GGRO, ~0u);
    out->lro = ethtool_flag(ifname, ETHTOOL_GFLAGS, ETH_FLAG_LRO);
    out->rx_vlan = ethtool_flag(ifname, ETHTOOL_GFLAGS, ETH_FLAG_RXVLAN);
    out->tx_vlan = ethtool_flag(ifname, ETHTOOL_GFLAGS, ETH_FLAG_TXVLAN);
    return 0;
}

int clinux_if_names(char *buf, size_t buflen) {
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

int clinux_if_name(int ifindex, char *name, size_t len) {
    if (name == NULL || len == 0) return EINVAL;
    if (ifindex <= 0) return ENODEV;
    char tmp[IF_NAMESIZE];
    if (if_indextoname((unsigned int)ifindex, tmp) == NULL) return errno == ENXIO ? ENODEV : errno;
    if (strlen(tmp) + 1 > len) return ERANGE;
    memcpy(name, tmp, strlen(tmp) + 1);
    return 0;
}

int clinux_set_thread_name(const char *name) {
    char shortened[16];
    snprintf(shortened, sizeof shortened, "%s", name ? name : "");
    return pthread_setname_np(pthread_self(), shortened);
}

int clinux_pin_thread(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int clinux_cpu_allowed(int cpu) {
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_ISSET(cpu, &set) ? 1 : 0;
}

// ---- Least privilege -------------------------------------------------------------------

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

int clinux_lookup_user(const char *name, uint32_t *uid, uint32_t *gid) {
    if (name == NULL || name[0] == '\0') return ENOENT;
    size_t len = 1024;
    for (;;) {
        char *buf = malloc(len);
        if (buf == NULL) return ENOMEM;
        struct passwd pw, *found = NULL;
        int rc = getpwnam_r(name, &pw, buf, len, &found);
        if (rc == 0 && found != NULL) {
            *uid = (uint32_t)pw.pw_uid;
            *gid = (uint32_t)pw.pw_gid;
        }
        free(buf);
        if (rc == ERANGE && len < (1 << 20)) { len *= 4; continue; }
        if (rc != 0) return rc;
        return found != NULL ? 0 : ENOENT;
    }
}

int clinux_lookup_group(const char *name, uint32_t *gid) {
    if (name == NULL || name[0] == '\0') return ENOENT;
    size_t len = 1024;
    for (;;) {
        char *buf = malloc(len);
        if (buf == NULL) return ENOMEM;
        struct group gr, *found = NULL;
        int rc = getgrnam_r(name, &gr, buf, len, &found);
        if (rc == 0 && found != NULL) *gid = (uint32_t)gr.gr_gid;
        free(buf);
        if (rc == ERANGE && len < (1 << 20)) { len *= 4; continue; }
        if (rc != 0) return rc;
        return found != NULL ? 0 : ENOENT;
    }
}

int clinux_capabilities(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return errno;
    *effective = (uint64_t)data[1].effective << 32 | data[0].effective;
    *permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
    *inheritable = (uint64_t)data[1].inheritable << 32 | data[0].inheritable;
    return 0;
}

static int last_capability(void);

int clinux_get_credentials(clinux_credentials *out) {
    memset(out, 0, sizeof *out);
    uid_t u[3];
    gid_t g[3];
    if (getresuid(&u[0], &u[1], &u[2]) != 0 || getresgid(&g[0], &g[1], &g[2]) != 0) return errno;
    for (int i = 0; i < 3; i++) { out->uid[i] = u[i]; out->gid[i] = g[i]; }
    out->groups = getgroups(0, NULL);
    if (out->groups < 0) return errno;
    out->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    for (int cap = 0, last = last_capability(); cap <= last; cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) out->bounding |= (uint64_t)1 << cap;
    }
    return 0;
}

// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap), else 63.
static int last_capability(void) {
    int last = 63;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f != NULL) {
        if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63) last = 63;
        fclose(f);
    }
    return last;
}

int clinux_drop_privileges(uint32_t uid, uint32_t gid, int *failed, int *bounding_kept) {
    *failed = 0;
    *bounding_kept = 0;
#define STEP(name, call) do { *failed = (name); if ((call) != 0) return errno; } while (0)
    STEP(CLINUX_DROP_KEEPCAPS, prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
    // The bounding set first: dropping from it takes CAP_SETPCAP, which setresuid takes away.
    *failed = CLINUX_DROP_BOUNDING;
    for (int cap = 0, last = last_capability(); cap <= last; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL) break;       // past the kernel's last capability
        if (errno == EPERM) { *bounding_kept = 1; break; }
        return errno;
    }
    // Ambient and groups before the ids: setgroups and setresgid take CAP_SETGID.
    STEP(CLINUX_DROP_AMBIENT, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    STEP(CLINUX_DROP_GROUPS, setgroups(0, NULL));
    STEP(CLINUX_DROP_GID, setresgid(gid, gid, gid));
    // Last of the ids: with no uid 0 left and KEEPCAPS off, the kernel empties the effective,
    // permitted and ambient sets; the inheritable set stays, so capset empties it below.
    STEP(CLINUX_DROP_UID, setresuid(uid, uid, uid));
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    STEP(CLINUX_DROP_CAPS, syscall(SYS_capset, &header, data));
    STEP(CLINUX_DROP_NO_NEW_PRIVS, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
#undef STEP
    // Read everything back: a kernel or libc that did less than asked is a failure, not a
    // silent half-drop.
    *failed = CLINUX_DROP_VERIFY;
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0) return errno;
    if (r != uid || e != uid || s != uid || rg != gid || eg != gid || sg != gid) return EPERM;
    if (getgroups(0, NULL) != 0) return EPERM;
    uint64_t ce, cp, ci;
    int rc = clinux_capabilities(&ce, &cp, &ci);
    if (rc != 0) return rc;
    if (ce != 0 || cp != 0 || ci != 0) return EPERM;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return EPERM;
    if (uid != 0 && setuid(0) == 0) return EPERM;   // must be irreversible
    *failed = 0;
    return 0;
}
