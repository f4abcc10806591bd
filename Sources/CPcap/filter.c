#include <stdio.h>
#include <pcap/pcap.h>
#include "CPcapFilter.h"

int cpcap_check_filter(const char *expr, int snaplen, char *err, size_t errlen) {
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, snaplen > 0 ? snaplen : 65535);
    if (dead == NULL) {
        snprintf(err, errlen, "pcap_open_dead failed");
        return -1;
    }
    struct bpf_program program;
    int rc = pcap_compile(dead, &program, expr, 1, PCAP_NETMASK_UNKNOWN);
    if (rc != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(dead));
    } else {
        pcap_freecode(&program);
    }
    pcap_close(dead);
    return rc == 0 ? 0 : -1;
}
