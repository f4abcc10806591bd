// CPcap's TX ring (cpcap_enable_tx_ring): a TPACKET_V2 PACKET_TX_RING on a PF_PACKET socket of
// its own, bound to the port's interface with protocol 0 so that it never receives. A slot holds
// a frame of the interface's MTU + 18 (Ethernet and a VLAN tag); the slot size is the next power
// of two. Internal to CPcap: shim.c's port owns one and sends through it.
#ifndef CPCAP_TX_RING_H
#define CPCAP_TX_RING_H
#include <stdint.h>

typedef struct cpcap_tx_ring tx_ring;

// `frames` slots (1 ... 2^20, checked by the caller) on ifindex, PACKET_QDISC_BYPASS when asked:
// 0 with *ring, or an errno value.
int cpcap_tx_ring_open(int ifindex, int frames, int qdisc_bypass, tx_ring **ring);
void cpcap_tx_ring_free(tx_ring *r);  // NULL is fine
int cpcap_tx_ring_fd(const tx_ring *r);
// cpcap_tx_burst through the ring (see CPcap.h); senders on several threads take turns.
int cpcap_tx_ring_burst(tx_ring *r, int ifindex, int n, const uint8_t *const *bufs, const uint32_t *lens,
                        int *err_no);
// PACKET_QDISC_BYPASS on a PF_PACKET socket: 0 or an errno value.
int cpcap_qdisc_bypass(int fd, int on);

#endif
