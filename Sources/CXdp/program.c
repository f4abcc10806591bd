// CXdp: the XDP program on an interface: look it up, name it, detach it. See include/CXdpProgram.h.
#include "CXdpProgram.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

int cxdp_program_attached(int ifindex, uint32_t *id) {
    struct bpf_xdp_query_opts q;
    memset(&q, 0, sizeof q);
    q.sz = sizeof q;
    int r = bpf_xdp_query(ifindex, 0, &q);
    if (r != 0) return r < 0 ? r : -r;
    *id = q.prog_id ? q.prog_id : q.skb_prog_id ? q.skb_prog_id : q.drv_prog_id ? q.drv_prog_id : q.hw_prog_id;
    return 0;
}

int cxdp_program_name(uint32_t id, char *name, size_t len) {
    if (name == NULL || len == 0) return -1;
    name[0] = '\0';
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return -1;
    struct bpf_prog_info info;
    uint32_t info_len = sizeof info;
    memset(&info, 0, sizeof info);
    int r = bpf_obj_get_info_by_fd(fd, &info, &info_len);
    close(fd);
    if (r != 0) return -1;
    snprintf(name, len, "%s", info.name);
    return 0;
}

int cxdp_program_detach(int ifindex) {
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
    int r = -ENOENT;
    if (mp != NULL && libxdp_get_error(mp) == 0) {
        r = xdp_multiprog__detach(mp);
        xdp_multiprog__close(mp);
    }
    uint32_t id = 0;
    if (cxdp_program_attached(ifindex, &id) == 0 && id != 0) {
        bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
        bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
        if (cxdp_program_attached(ifindex, &id) == 0 && id != 0) return r < 0 ? r : -EBUSY;
    }
    return 0;
}

const char *cxdp_lib_version(void) {
    static char v[64];
    if (v[0] == '\0') snprintf(v, sizeof v, "libxdp (xsk), libbpf %d.%d", LIBBPF_MAJOR_VERSION, LIBBPF_MINOR_VERSION);
    return v;
}
