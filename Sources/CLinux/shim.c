// CLinux: the helpers the shims share and the netdev facts. See include/CLinux.h.
#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

int clinux_possible_ifname(const char *ifname) {
    if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= IF_NAMESIZE) return 0;
    return strchr(ifname, '/') == NULL && strcmp(ifname, ".") != 0 && strcmp(ifname, "..") != 0;
}

void clinux_vset_err(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (err != NULL && errlen > 0) vsnprintf(err, errlen, fmt, ap);
}

void clinux_set_err(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clinux_vset_err(err, errlen, fmt, ap);
    va_end(ap);
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
    if (!clinux_possible_ifname(ifname)) return ENODEV;
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
    if (!clinux_possible_ifname(ifname)) return ENODEV;
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

int clinux_if_rx_queues(const char *ifname, int *count) {
    if (!clinux_possible_ifname(ifname)) return ENODEV;
    char path[64];
    snprintf(path, sizeof path, "/sys/class/net/%s/queues", ifname);
    DIR *d = opendir(path);
    if (d == NULL) return errno == ENOENT ? ENODEV : errno;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, "rx-", 3) == 0) n++;
    closedir(d);
    *count = n;
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

