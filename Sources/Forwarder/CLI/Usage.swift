let forwarderVersion = "0.1.0"

let usageText = """
usage: forwarder IN OUT [options]
       forwarder --config FILE [options]

Moves Ethernet frames between two interfaces over AF_PACKET (libpcap) or AF_XDP, both ways,
taking packet heads from a per-thread cache modelled on the Linux NAPI skb cache. Needs root or
CAP_NET_RAW (AF_XDP: also CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN; better root and --user).

Configuration:
  --config FILE             read 'option = value' lines from FILE (the long options' names);
                            an option on the command line replaces the file's value(s)
  --in NAME, --out NAME     the interfaces, instead of IN OUT (e.g. 'in = eth0' in a file)

Forwarding:
  --one-way                 only IN -> OUT
  --filter EXPR             pcap filter applied on both inputs (e.g. 'udp or arp'); in the
                            kernel with pcap, in the port with xdp
  --burst N                 frames per RX burst and per sendmmsg [32]
  --snaplen N               bytes captured per frame [2112]; longer frames are dropped as oversize
  --buffer-size BYTES       kernel ring size per interface [libpcap default, 2 MB]
  --poll wait|busy|adaptive[:USEC]
                            how a worker waits for frames: wait = sleep in poll() (no CPU when
                            idle); busy = never sleep (lowest latency, a core per worker; xdp:
                            kernel busy polling where allowed); adaptive = keep polling USEC
                            after the last frame, then sleep [wait; adaptive: 100]
  --busy-poll               the same as --poll busy

Packet I/O (see docs/design.md, "AF_XDP"):
  --io pcap|xdp|auto        libpcap over AF_PACKET, or AF_XDP (per worker one UMEM shared by a
                            socket on each interface, worker i on queue --xdp-queue + i; no
                            pcap-only options); auto = xdp where it can be set up on both
                            interfaces, else pcap, saying why [pcap]
  --xdp-mode auto|native|generic
                            how the XDP program is attached; auto = generic on veth with one
                            worker, native elsewhere (generic if the driver refuses) [auto]
  --xdp-zero-copy           AF_XDP zero-copy (native mode; drivers that have it, not veth)
  --xdp-queue N             the queue the AF_XDP sockets bind to on both interfaces (with
                            several workers, the first of theirs) [0]

Workers and the kernel path (see docs/design.md, "Workers"):
  --workers N|auto          workers per interface, each with its own socket on both interfaces
                            (one PACKET_FANOUT group per interface) and its own head cache;
                            auto = one per online CPU (xdp: at most one per RX queue) [1]
  --cpus LIST               pin worker i to the i-th CPU of LIST, e.g. 0,1 or 0-3 [unpinned]
  --remote-frees adopt|return-home
                            a head freed by a worker that did not allocate it (NAT hand-off):
                            kept there, or sent back to its home cache [return-home]
  --nat-steering bpf|none   NAT with several workers: a classic BPF fanout program puts each
                            frame on its owner's socket, or the kernel's flow hash only (the
                            rest is handed to its owner) [bpf]
  --qdisc-bypass on|off     PACKET_QDISC_BYPASS on the sending sockets [off]
  --tx-ring on|off          send through a PACKET_TX_RING socket, one send() per burst [on];
                            off: one sendmmsg per burst on the pcap socket
  --fanout-rollover on|off  a worker whose ring is full passes frames to another (flows may
                            reorder) [off]
  --fanout-defrag on|off    the kernel reassembles fragments before fanout (the reassembled
                            datagram may exceed the MTU and be dropped as oversize) [off]

Allocator:
  --alloc cache|plain       per-thread head cache, or one malloc/free per packet [cache]
  --cache-preset P          kernel-2021 (64/16/32) or kernel-2025 (128/32/32) [kernel-2021]
  --max-heads N             cap on packet heads; at the cap frames wait in the kernel ring
  --debug-heads             poison heads on put, check them on get, catch double frees

VLAN translation (L2, no IP configuration):
  --vlan-map A:B            VID A on IN <-> VID B on OUT; 0 = untagged; OUTER.INNER = 802.1ad
                            stack (e.g. 100.10:20); repeatable
  --vlan-pass-unmapped      pass frames whose VLAN has no mapping, unchanged [drop]

VLAN NAT gateway (IN = inside, OUT = outside; see docs/nat.md):
  --vlan-nat                route and masquerade the inside behind the outside address
  --inside ADDR/PREFIX      the gateway's address on IN          (required)
  --outside ADDR/PREFIX     the gateway's address on OUT         (required)
  --inside-vlan VID         VLAN of the inside hosts [untagged]
  --outside-vlan VID        VLAN of the outside network [untagged]
  --gateway IP              next hop beyond the outside subnet [on-link only]
  --forward PROTO:PORT=IP:PORT   static port forward (tcp|udp), repeatable
  --max-sessions N          [131072]
  --timeout-udp S, --timeout-tcp S, --timeout-tcp-transitory S, --timeout-icmp S
                            [300, 7440, 240, 60]
  --max-sessions-per-host N sessions one inside host may hold [no limit]
  --new-sessions-per-host RATE/s
                            new sessions one inside host may open per second [no limit];
                            over either: a RST for a SYN, ICMP admin-prohibited otherwise
  --ipv6 drop|bridge        bridge: IPv6 frames (NDP and RAs too) cross with only their VLAN tag
                            changed, for an IPv6 router on the outside; no NAT66 [drop]
  --mss-clamp off|auto|N    lower the MSS option of TCP SYNs either way to N (auto: the smaller
                            MTU of the two sides minus 40) [off]
  --nat-log FILE|syslog     a line per mapping created and removed: JSON lines appended to FILE,
                            or RFC 5424 to the local syslog socket

Output:
  --duration SECONDS        stop by itself
  --stats SECONDS           a line per interval on stderr: pps, Mbps, drops, cache
  --json                    the final summary as one JSON object on stdout
  -q, --quiet               no warnings, stats or text summary (errors still go to stderr)
  --log-format text|json    warnings and errors as text lines or JSON objects [text]
  --metrics-file PATH       Prometheus text format, rewritten atomically each interval
                            (node_exporter textfile collector)
  --metrics-interval S      [the --stats interval, else 10]
  --capture-drops FILE      write dropped frames to a pcapng file, the reason as each comment
  --capture-limit N         frames written at most [10000]

Control socket (forwarder ctl ... talks to it; see forwarder ctl --help):
  --name NAME               this forwarder's name among others on the host [IN-OUT]
  --control PATH|none       the control socket, mode 0660 (group: --group) [/run/forwarder/NAME.sock]

Least privilege:
  --user NAME               once the interfaces and files are open, become NAME with no
                            capabilities (when started as root); NAME must be able to write the
                            --metrics-file directory
  --group NAME              with --user: this group instead of NAME's primary group

  -h, --help, -V, --version

SIGINT or SIGTERM stops cleanly: queued frames are sent, then the summary is printed.
forwarder ctl [--control PATH | --name NAME] status|sessions|neighbours|forwards [--json]:
ask a running forwarder (forwarder ctl --help).

Examples:
  sudo forwarder eth0 eth1
  sudo forwarder eth0 eth1 --vlan-map 10:20 --stats 1
  sudo forwarder eth0 eth1 --io xdp
  sudo forwarder eth0 eth1 --vlan-nat --inside 192.168.10.1/24 --inside-vlan 10 \\
       --outside 203.0.113.1/24 --outside-vlan 20 --gateway 203.0.113.254

Exit status: 0 ok, 1 runtime failure (permission, interface missing or down, I/O error),
2 usage error (bad option or value, bad filter expression, IN equal to OUT).
"""
