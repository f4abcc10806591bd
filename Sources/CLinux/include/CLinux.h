// CLinux: the Linux facts about a network device that libpcap does not give (shim.c), and the
// process's own control (process.c): thread naming, spawning a helper, least privilege (user and
// group look-ups, the drop to a user with no capabilities, a capability limit). Each function wraps
// one kernel interface (an ifreq ioctl, an ethtool command, a sysfs file, if_nameindex,
// pthread_setname_np, posix_spawn, capset), so the Swift side composes them and owns the wording.
// The other shims (CPcap, CXdp) take their shared helpers from here.
//
// Errors are errno values, returned (0 = ok): ENODEV means no interface has that name, which
// includes names no interface can have (empty, 16 characters or more, '/', "." or ".."): ifreq
// would cut a long name to another interface's. Nothing here exits, prints or keeps state.
#ifndef CLINUX_H
#define CLINUX_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

// ---- Helpers the shims share -------------------------------------------------------------
// 1 when an interface can have this name: not empty, under IF_NAMESIZE (ifreq and libpcap would
// cut a longer one to another interface's), no '/' and not "." or ".." (sysfs paths stay inside
// /sys/class/net).
int clinux_possible_ifname(const char *ifname);
// A shim's error text into the caller's buffer (err NULL or errlen 0: nothing).
void clinux_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void clinux_vset_err(char *err, size_t errlen, const char *fmt, va_list ap);

// ---- Interface facts ---------------------------------------------------------------------
int clinux_if_index(const char *ifname, int *index);          // SIOCGIFINDEX
int clinux_if_mac(const char *ifname, uint8_t mac[6]);         // SIOCGIFHWADDR
int clinux_if_mtu(const char *ifname, int *mtu);               // SIOCGIFMTU
int clinux_if_flags(const char *ifname, int *up, int *running);  // SIOCGIFFLAGS: IFF_UP, IFF_RUNNING
// ETHTOOL_GDRVINFO: "veth", "e1000e", ...; "" (and 0) for a device without ethtool ops.
int clinux_if_driver(const char *ifname, char *driver, size_t len);
// /sys/class/net/NAME/iflink: the peer's index for a veth (in its own namespace, which may not
// be ours), the lower device's for a VLAN, else the device's own index.
int clinux_if_iflink(const char *ifname, int *iflink);
// /sys/class/net/NAME/queues/rx-*: the RX queues a socket can be bound to.
int clinux_if_rx_queues(const char *ifname, int *count);

// Legacy ethtool get commands, one field each: 1 on, 0 off, -1 unknown (the driver does not
// answer). Fails (ENODEV) only when the device is not there.
typedef struct { int rx_csum, tx_csum, tso, gso, gro, lro, rx_vlan, tx_vlan; } clinux_offloads;
int clinux_if_offloads(const char *ifname, clinux_offloads *out);

// if_nameindex: the names separated by single spaces (names cannot hold spaces). Returns the
// count, or -1 on failure or when buf is too small (buf then holds the names that fit).
int clinux_if_names(char *buf, size_t buflen);
int clinux_if_name(int ifindex, char *name, size_t len);  // if_indextoname: 0, or an errno value

// ---- Process control ---------------------------------------------------------------------
// Names the calling thread (shown by top -H, ps -L, perf); the kernel keeps 15 characters, so
// a longer name is cut, not refused. 0, or an errno value.
int clinux_set_thread_name(const char *name);
// Pins the calling thread to one CPU (pthread_setaffinity_np): 0 or an errno value.
int clinux_pin_thread(int cpu);
// 1 when this process may run on `cpu` (sched_getaffinity), else 0.
int clinux_cpu_allowed(int cpu);

// The start time of process `pid` (field 22 of /proc/<pid>/stat), 0 when unknown: with the pid
// it names one process (a reused pid has another start time).
unsigned long long clinux_process_start(int pid);
// Starts this binary again (/proc/self/exe) with argv as a helper that watches this process: the
// read end of a new pipe on watch_fd and no other descriptor but 0-2 (0 and 1 on /dev/null),
// SIGINT/SIGTERM/SIGHUP/SIGPIPE blocked. *write_fd: the write end (O_CLOEXEC); closing it, or this
// process ending, is the helper's cue. 0, or an errno value.
int clinux_spawn_watcher(char *const argv[], int watch_fd, int *pid, int *write_fd);

// Least privilege (`--user`, `--group`). The look-ups return 0, ENOENT when there is no such
// user or group, or another errno value (ERANGE never: the buffer grows).
int clinux_lookup_user(const char *name, uint32_t *uid, uint32_t *gid);   // getpwnam_r
int clinux_lookup_group(const char *name, uint32_t *gid);                 // getgrnam_r

// The steps of clinux_drop_privileges, in the order they run; *failed names the one that failed.
#define CLINUX_DROP_KEEPCAPS 1  // prctl(PR_SET_KEEPCAPS, 0): setresuid must clear the caps
#define CLINUX_DROP_BOUNDING 2  // prctl(PR_CAPBSET_DROP) each capability (skipped without CAP_SETPCAP)
#define CLINUX_DROP_AMBIENT 3  // prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
#define CLINUX_DROP_GROUPS 4  // setgroups(0, NULL)
#define CLINUX_DROP_GID 5  // setresgid(gid, gid, gid)
#define CLINUX_DROP_UID 6  // setresuid(uid, uid, uid)
#define CLINUX_DROP_CAPS 7  // capset: effective, permitted, inheritable all empty
#define CLINUX_DROP_NO_NEW_PRIVS 8  // prctl(PR_SET_NO_NEW_PRIVS, 1)
#define CLINUX_DROP_VERIFY 9  // the ids and capability sets read back, setuid(0) refused
// Drops the calling process to uid/gid for good: no supplementary groups, no capabilities in any
// set, no new privileges on exec. Run it while the process has one thread (capset, the bounding
// set and no_new_privs are per thread; threads created afterwards inherit them). 0, or the errno
// value of the step *failed names. *bounding_kept is 1 when the bounding set could not be
// emptied (no CAP_SETPCAP: not root), which leaves nothing usable: every other set is empty and
// no_new_privs keeps exec from gaining any.
int clinux_drop_privileges(uint32_t uid, uint32_t gid, int *failed, int *bounding_kept);
// Least privilege without a change of user: keeps only the capabilities in `keep` (bit n is
// capability n) in the effective and permitted sets and in the bounding set, clears the
// inheritable and ambient sets, sets no_new_privs; the same steps clinux_drop_privileges takes.
// 0, or the first errno value (the other steps still run).
int clinux_limit_capabilities(uint64_t keep);
// The calling thread's ids (real, effective, saved), its number of supplementary groups,
// no_new_privs (0 or 1) and its bounding set as 64 bits (PR_CAPBSET_READ). 0, or an errno value.
typedef struct {
    uint32_t uid[3], gid[3];
    int groups, no_new_privs;
    uint64_t bounding;
} clinux_credentials;
int clinux_get_credentials(clinux_credentials *out);
// The capability sets of the calling thread (capget), each as 64 bits.
int clinux_capabilities(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);

#ifdef __cplusplus
}
#endif
#endif
