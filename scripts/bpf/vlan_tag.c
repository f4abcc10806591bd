// tc clsact programs that make a host "speak" one 802.1Q VLAN.
//   egress : push an 802.1Q tag VID on every frame (ARP included).
//   ingress: accept only frames tagged with VID (outer tag, TPID 0x8100) and pop the tag;
//            drop untagged frames and frames with any other tag.
// The tag can reach tc ingress in two forms, both handled:
//   - in skb metadata (skb->vlan_present / vlan_tci): rx VLAN offload, or the core's
//     skb_vlan_untag(), which normally runs before tc ingress;
//   - inline in the packet (ethertype 0x8100 at offset 12).
// bpf_skb_vlan_pop() clears a metadata tag, or removes an inline one when skb->protocol
// is 802.1Q.
// Build: clang -O2 -target bpf -DVID=N -c vlan_tag.c -o vlan_tag.o
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef VID
#error "build with -DVID=N (1..4094)"
#endif
#if VID < 1 || VID > 4094
#error "VID must be 1..4094"
#endif

SEC("classifier/egress")
int vlan_egress(struct __sk_buff *skb) {
    if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), VID) != 0)
        return TC_ACT_SHOT;
    return TC_ACT_OK;
}

SEC("classifier/ingress")
int vlan_ingress(struct __sk_buff *skb) {
    if (skb->vlan_present) {
        if (skb->vlan_proto != bpf_htons(ETH_P_8021Q) || (skb->vlan_tci & 0x0fff) != VID)
            return TC_ACT_SHOT;
    } else {
        __u16 hdr[2];   // ethertype, TCI (network order)
        if (bpf_skb_load_bytes(skb, 12, hdr, sizeof hdr) != 0)
            return TC_ACT_SHOT;
        if (hdr[0] != bpf_htons(ETH_P_8021Q) || (bpf_ntohs(hdr[1]) & 0x0fff) != VID)
            return TC_ACT_SHOT;
    }
    if (bpf_skb_vlan_pop(skb) != 0)
        return TC_ACT_SHOT;
    return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
