// CXdp: the XDP program the AF_XDP sockets need, over libbpf and libxdp. The program is libxdp's
// default XSK redirect program (xsk_def_prog, attached by the first cxdp_bind on an interface,
// possibly inside libxdp's dispatcher); libxdp leaves it attached when the sockets close. These
// calls only look and detach: which program is the forwarder's, when a leftover may go and who
// detaches it (the markers, the release guard) is XdpProgramOwner.swift's.
#ifndef CXDP_PROGRAM_H
#define CXDP_PROGRAM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

// The id of the XDP program attached to ifindex in any mode (0: none). 0, or -errno.
int cxdp_program_attached(int ifindex, uint32_t *id);
// The kernel's name of program `id` ("xsk_def_prog", "xdp_dispatcher", ...). 0, or -1 ("" then).
int cxdp_program_name(uint32_t id, char *name, size_t len);
// Detaches whatever XDP program is on ifindex: libxdp's way first (it knows its dispatcher and
// unpins it), then the plain netlink detach for each mode. 0, or -errno (-EBUSY: still there).
int cxdp_program_detach(int ifindex);

const char *cxdp_lib_version(void);  // "libxdp (xsk), libbpf 1.1"

#ifdef __cplusplus
}
#endif
#endif
