// CLinux: thread naming, a watcher process, least privilege. See include/CLinux.h.
#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

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

// ---- Processes ---------------------------------------------------------------------------

unsigned long long clinux_process_start(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
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

// The stop signals stay blocked in the child until it has ignored them (no window where a
// Ctrl-C kills it). dup2 first: the read end may be 0 or 1 when those were closed; glibc clears
// O_CLOEXEC when the read end already is watch_fd.
int clinux_spawn_watcher(char *const argv[], int watch_fd, int *pid, int *write_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, fds[0], watch_fd);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&actions, watch_fd + 1);
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

// ---- Least privilege ---------------------------------------------------------------------

// One getpwnam_r (user) or getgrnam_r (group) into buf: ids[0] the uid or the gid, ids[1] the
// user's primary gid. 0, ENOENT, or the errno value (ERANGE: buf is too small).
static int find(int user, const char *name, char *buf, size_t len, uint32_t *ids) {
    struct passwd pw, *found_user = NULL;
    struct group gr, *found_group = NULL;
    int rc = user ? getpwnam_r(name, &pw, buf, len, &found_user) : getgrnam_r(name, &gr, buf, len, &found_group);
    if (rc != 0) return rc;
    if (user ? found_user == NULL : found_group == NULL) return ENOENT;
    ids[0] = user ? (uint32_t)pw.pw_uid : (uint32_t)gr.gr_gid;
    if (user) ids[1] = (uint32_t)pw.pw_gid;
    return 0;
}

// find with a buffer that grows while the look-up answers ERANGE.
static int lookup(int user, const char *name, uint32_t *ids) {
    if (name == NULL || name[0] == '\0') return ENOENT;
    for (size_t len = 1024;; len *= 4) {
        char *buf = malloc(len);
        if (buf == NULL) return ENOMEM;
        int rc = find(user, name, buf, len, ids);
        free(buf);
        if (rc != ERANGE || len >= (1 << 20)) return rc;
    }
}

int clinux_lookup_user(const char *name, uint32_t *uid, uint32_t *gid) {
    uint32_t ids[2];
    int rc = lookup(1, name, ids);
    if (rc == 0) { *uid = ids[0]; *gid = ids[1]; }
    return rc;
}

int clinux_lookup_group(const char *name, uint32_t *gid) { return lookup(0, name, gid); }

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

// Drops every capability not in `keep` from the bounding set: first, since it takes CAP_SETPCAP,
// which a change of user or a capset takes away. *kept = 1 when the process may not (EPERM).
static int drop_bounding(uint64_t keep, int *kept) {
    for (int cap = 0, last = last_capability(); cap <= last; cap++) {
        if ((keep >> cap) & 1 || prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL) break;       // past the kernel's last capability
        if (errno == EPERM) { *kept = 1; break; }
        return errno;
    }
    return 0;
}

// The effective and permitted sets cut to what they hold of `keep`, the inheritable set emptied.
static int keep_capabilities(uint64_t keep) {
    uint64_t effective, permitted, inheritable;
    int rc = clinux_capabilities(&effective, &permitted, &inheritable);
    if (rc != 0) return rc;
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) data[i].effective = data[i].permitted = (uint32_t)((effective & keep) >> (32 * i));
    return syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

int clinux_limit_capabilities(uint64_t keep) {
    int kept = 0, failed = drop_bounding(keep, &kept);
    if (kept && !failed) failed = EPERM;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && !failed) failed = errno;
    int rc = keep_capabilities(keep);
    if (rc != 0 && !failed) failed = rc;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 && !failed) failed = errno;
    return failed;
}

int clinux_drop_privileges(uint32_t uid, uint32_t gid, int *failed, int *bounding_kept) {
    *failed = 0;
    *bounding_kept = 0;
#define STEP(name, call) do { *failed = (name); int rc_ = (call); if (rc_ != 0) return rc_; } while (0)
#define SYSCALL(call) ((call) == 0 ? 0 : errno)
    STEP(CLINUX_DROP_KEEPCAPS, SYSCALL(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)));
    STEP(CLINUX_DROP_BOUNDING, drop_bounding(0, bounding_kept));
    // Ambient and groups before the ids: setgroups and setresgid take CAP_SETGID.
    STEP(CLINUX_DROP_AMBIENT, SYSCALL(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)));
    STEP(CLINUX_DROP_GROUPS, SYSCALL(setgroups(0, NULL)));
    STEP(CLINUX_DROP_GID, SYSCALL(setresgid(gid, gid, gid)));
    // Last of the ids: with no uid 0 left and KEEPCAPS off, the kernel empties the effective,
    // permitted and ambient sets; the inheritable set stays, so the capset empties it.
    STEP(CLINUX_DROP_UID, SYSCALL(setresuid(uid, uid, uid)));
    STEP(CLINUX_DROP_CAPS, keep_capabilities(0));
    STEP(CLINUX_DROP_NO_NEW_PRIVS, SYSCALL(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)));
#undef SYSCALL
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
