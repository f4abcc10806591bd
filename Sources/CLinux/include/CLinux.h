// CLinux: the Linux facts about a network device that libpcap does not give, and thread naming.
// Each function wraps one kernel interface (an ifreq ioctl, an ethtool command, a sysfs file,
// if_nameindex, pthread_setname_np), so the Swift side composes them and owns the wording.
//
// Errors are errno values, returned (0 = ok): ENODEV means no interface has that name, which
// includes names no interface can have (empty, 16 characters or more, '/', "." or ".."): ifreq
// would cut a long name to another interface's. Nothing here exits, prints or keeps state.
#ifndef CLINUX_H
#define CLINUX_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

int clinux_if_index(const char *ifname, int *index);          // SIOCGIFINDEX
int clinux_if_mac(const char *ifname, uint8_t mac[6]);         // SIOCGIFHWADDR
int clinux_if_mtu(const char *ifname, int *mtu);               // SIOCGIFMTU
int clinux_if_flags(const char *ifname, int *up, int *running);  // SIOCGIFFLAGS: IFF_UP, IFF_RUNNING
// ETHTOOL_GDRVINFO: "veth", "e1000e", ...; "" (and 0) for a device without ethtool ops.
int clinux_if_driver(const char *ifname, char *driver, size_t len);
// /sys/class/net/NAME/iflink: the peer's index for a veth (in its own namespace, which may not
// be ours), the lower device's for a VLAN, else the device's own index.
int clinux_if_iflink(const char *ifname, int *iflink);

// Legacy ethtool get commands, one field each: 1 on, 0 off, -1 unknown (the driver does not
// answer). Fails (ENODEV) only when the device is not there.
typedef struct { int rx_csum, tx_csum, tso, gso, gro, lro, rx_vlan, tx_vlan; } clinux_offloads;
int clinux_if_offloads(const char *ifname, clinux_offloads *out);

// if_nameindex: the names separated by single spaces (names cannot hold spaces). Returns the
// count, or -1 on failure or when buf is too small (buf then holds the names that fit).
int clinux_if_names(char *buf, size_t buflen);
int clinux_if_name(int ifindex, char *name, size_t len);  // if_indextoname: 0, or an errno value

// Names the calling thread (shown by top -H, ps -L, perf); the kernel keeps 15 characters, so
// a longer name is cut, not refused. 0, or an errno value.
int clinux_set_thread_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
