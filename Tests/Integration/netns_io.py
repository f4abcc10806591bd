"""Raw Ethernet I/O inside network namespaces, for the integration tests.

Sockets are opened inside a namespace (setns on the calling thread, then back), so a test can
send and capture in host A's and host B's namespaces from the pytest process itself: no
subprocess per frame, no scapy start-up cost. Capture restores 802.1Q/802.1ad tags that the
kernel moved into metadata (PACKET_AUXDATA), the way libpcap does, so the captured bytes are
the bytes on the wire.
"""

import contextlib
import ctypes
import os
import socket
import struct
import threading
import time

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
PACKET_OUTGOING = 4
AUXDATA = struct.Struct("=IIIHHHH")  # struct tpacket_auxdata

_libc = ctypes.CDLL(None, use_errno=True)
_ns_lock = threading.Lock()


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def in_netns(name):
    """Run the body with the calling thread in network namespace `name` (None = stay)."""
    if name is None:
        yield
        return
    with _ns_lock:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)


def raw_socket(netns, ifname, rcvbuf=8 << 20):
    """An AF_PACKET/SOCK_RAW socket bound to `ifname` in `netns` (all protocols)."""
    with in_netns(netns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
            s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            s.bind((ifname, ETH_P_ALL))
        except BaseException:
            s.close()
            raise
    return s


def send_frames(netns, ifname, frames, pace_every=32, pace_s=0.001):
    """Send each frame (bytes) once on `ifname` in `netns`; a short pause every `pace_every`
    frames keeps the veth backlog (netdev_max_backlog) from overflowing."""
    s = raw_socket(netns, ifname, rcvbuf=1 << 16)
    try:
        for i, f in enumerate(frames):
            n = s.send(f)
            assert n == len(f), f"short send on {ifname}: {n} of {len(f)} bytes"
            if pace_every and (i + 1) % pace_every == 0:
                time.sleep(pace_s)
    finally:
        s.close()


class Capture:
    """Captures every frame on `ifname` in `netns` from start() to stop() on a thread.

    frames: list of (bytes, pkttype); outgoing frames (sent by this host) are kept apart in
    `outgoing`. Tags the kernel stripped into metadata are put back into the bytes.
    """

    def __init__(self, netns, ifname):
        self.netns = netns
        self.ifname = ifname
        self.frames = []
        self.outgoing = []
        self.error = None
        self._stop = threading.Event()
        self._sock = None
        self._thread = None

    def start(self):
        self._sock = raw_socket(self.netns, self.ifname)
        self._sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"capture-{self.ifname}")
        self._thread.start()
        return self

    def _run(self):
        cmsg_space = socket.CMSG_SPACE(AUXDATA.size)
        try:
            while not self._stop.is_set():
                try:
                    data, anc, _flags, addr = self._sock.recvmsg(65536, cmsg_space)
                except socket.timeout:
                    continue
                for level, ctype, cdata in anc:
                    if level == SOL_PACKET and ctype == PACKET_AUXDATA and len(cdata) >= AUXDATA.size:
                        status, _len, _snap, _mac, _net, tci, tpid = AUXDATA.unpack_from(cdata)
                        if status & TP_STATUS_VLAN_VALID:
                            if not status & TP_STATUS_VLAN_TPID_VALID:
                                tpid = 0x8100
                            data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
                pkttype = addr[2]
                (self.outgoing if pkttype == PACKET_OUTGOING else self.frames).append((data, pkttype))
        except Exception as e:  # reported by stop()
            self.error = e

    def incoming(self):
        return [f for f, _ in self.frames]

    def wait_for(self, predicate, count, timeout=3.0):
        """Wait until `count` received frames satisfy predicate (or timeout); returns them."""
        deadline = time.monotonic() + timeout
        while True:
            got = [f for f, _ in list(self.frames) if predicate(f)]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._sock:
            self._sock.close()
        if self.error:
            raise self.error
        return self.incoming()


def ns_counter(netns, ifname, name):
    """/sys/class/net/IF/statistics/NAME as seen inside netns (sysfs follows the mount ns, so
    read it through `ip netns exec`)."""
    import subprocess
    out = subprocess.run(["ip", "netns", "exec", netns, "cat",
                          f"/sys/class/net/{ifname}/statistics/{name}"],
                         capture_output=True, text=True, timeout=10, check=True)
    return int(out.stdout.strip())


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def build_frame(dst, src, size, marker, vlans=(), ethertype=0x88B5):
    """An Ethernet frame of exactly `size` bytes (no FCS): dst/src MAC bytes, then one
    (tpid, tci) tag per entry of `vlans` (outermost first), then `ethertype` and a payload that
    starts with `marker` and continues with bytes derived from it (so every frame differs)."""
    hdr = dst + src
    for tpid, tci in vlans:
        hdr += struct.pack("!HH", tpid, tci)
    hdr += struct.pack("!H", ethertype)
    room = size - len(hdr)
    assert room >= len(marker), f"frame of {size} bytes has no room for the marker"
    filler = bytearray()
    seed = int.from_bytes(marker[-4:], "big") * 2654435761 & 0xFFFFFFFF
    while len(filler) < room - len(marker):
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        filler.append((seed >> 16) & 0xFF)
    frame = hdr + marker + bytes(filler)
    assert len(frame) == size
    return frame


class Markers:
    """Unique payload markers: TAG (4 bytes) + run id (4 random bytes) + sequence (4 bytes).
    Frames of other runs, other tests or background traffic never match."""

    TAG = b"FWDT"

    def __init__(self):
        self.prefix = self.TAG + os.urandom(4)
        self.seq = 0

    def next(self):
        self.seq += 1
        return self.prefix + struct.pack("!I", self.seq)

    def of(self, frame):
        """The marker in `frame`, or None when it is not one of ours."""
        i = frame.find(self.prefix)
        if i < 0:
            return None
        return frame[i:i + len(self.prefix) + 4]

    def ours(self, frame):
        return self.prefix in frame


def compare_exactly_once(markers, sent, received):
    """sent: {marker: frame}; received: frames captured at the far end. Returns a list of
    problems (empty = every sent frame arrived exactly once, byte for byte, and nothing else
    of ours arrived)."""
    problems = []
    seen = {}
    for f in received:
        m = markers.of(f)
        if m is None:
            continue
        seen.setdefault(m, []).append(f)
    for m, frame in sent.items():
        got = seen.get(m, [])
        desc = f"frame #{struct.unpack('!I', m[-4:])[0]} ({len(frame)} bytes, dst {frame[:6].hex(':')})"
        if not got:
            problems.append(f"{desc}: never arrived")
            continue
        if len(got) > 1:
            problems.append(f"{desc}: arrived {len(got)} times")
        for g in got:
            if g != frame:
                diff = next((i for i in range(min(len(g), len(frame))) if g[i] != frame[i]),
                            min(len(g), len(frame)))
                problems.append(f"{desc}: arrived as {len(g)} bytes, first difference at byte "
                                f"{diff}: sent {frame[diff:diff + 8].hex()} got {g[diff:diff + 8].hex()}")
    for m in seen:
        if m not in sent:
            problems.append(f"unexpected frame with marker {m.hex()} arrived")
    return problems


PACKET_QDISC_BYPASS = 20


def flood(netns, ifname, frames, seconds, pps=None, stop=None):
    """Send `frames` (a list of bytes, cycled) on `ifname` in `netns` for `seconds` (or until
    the threading.Event `stop` is set), as fast as the socket takes them or at about `pps`
    frames per second. The qdisc (and so the hosts' tc VLAN programs) is bypassed: the bytes
    on the wire are exactly the frames given. ENOBUFS/EAGAIN (a full device queue) is waited
    out, not an error. Returns the number of frames sent."""
    with in_netns(netns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sent = 0
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
        s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        s.bind((ifname, 0))
        n = len(frames)
        start = time.monotonic()
        deadline = start + seconds
        i = 0
        while True:
            if i % 64 == 0:
                now = time.monotonic()
                if now >= deadline or (stop is not None and stop.is_set()):
                    break
                if pps:
                    ahead = sent / pps - (now - start)
                    if ahead > 0:
                        time.sleep(ahead)
            try:
                s.send(frames[i % n])
                sent += 1
            except (BlockingIOError, InterruptedError):
                time.sleep(0.0005)
            except OSError as e:
                if e.errno in (105, 11, 100):   # ENOBUFS, EAGAIN, ENETDOWN (link flapped)
                    time.sleep(0.0005)
                else:
                    raise
            i += 1
    finally:
        s.close()
    return sent


class Flooder:
    """flood() on a thread: start(), then join() -> frames sent (an error in the thread is
    raised by join())."""

    def __init__(self, netns, ifname, frames, seconds, pps=None):
        self.args = (netns, ifname, frames, seconds, pps)
        self.stop_event = threading.Event()
        self.sent = 0
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"flood-{ifname}")

    def _run(self):
        try:
            self.sent = flood(*self.args, stop=self.stop_event)
        except Exception as e:
            self.error = e

    def start(self):
        self._thread.start()
        return self

    def join(self, timeout=30):
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.stop_event.set()
            self._thread.join(5)
        if self.error:
            raise self.error
        return self.sent


# ---------------------------------------------------------------------------------------------
# Frames for floods (plain struct packing: thousands per second, no scapy)

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth_header(dst, src, ethertype, vlan=None):
    """dst/src: MAC bytes; vlan: None (untagged) or a VID (one 802.1Q tag)."""
    if vlan is None:
        return dst + src + struct.pack("!H", ethertype)
    return dst + src + struct.pack("!HHH", 0x8100, vlan, ethertype)


def ipv4_frame(dst, src, src_ip, dst_ip, proto, l4, vlan=None, ttl=64, ident=0):
    """A well-formed IPv4 frame; l4 is the transport header + payload (checksum already in)."""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident & 0xFFFF, 0x4000, ttl, proto, 0,
                      socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    f = eth_header(dst, src, 0x0800, vlan) + hdr + l4
    return f + bytes(max(0, 60 - len(f)))


def tcp_segment(src_ip, dst_ip, sport, dport, flags=0x02, seq=0, payload=b""):
    """A TCP header (20 bytes, no options) + payload with a correct checksum."""
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    c = _csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def udp_datagram(src_ip, dst_ip, sport, dport, payload=b""):
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    pseudo = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!BBH", 0, 17, len(hdr) + len(payload))
    c = _csum(pseudo + hdr + payload) or 0xFFFF
    return hdr[:6] + struct.pack("!H", c) + payload


def arp_frame(dst, src, op, sha, spa, tha, tpa, vlan=None):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, socket.inet_aton(spa), tha,
                       socket.inet_aton(tpa))
    f = eth_header(dst, src, 0x0806, vlan) + body
    return f + bytes(max(0, 60 - len(f)))


def random_mac(rng):
    """A random unicast, locally administered MAC."""
    b = bytearray(rng.randbytes(6))
    b[0] = (b[0] & 0xFC) | 0x02
    return bytes(b)


def random_ip(rng, prefix=None):
    if prefix:   # "192.168.10." -> a host in that /24
        return prefix + str(rng.randint(1, 254))
    return socket.inet_ntoa(rng.randbytes(4))


def garbage_frames(rng, n, dst, src, vlan=None, src_ip="10.0.0.1", dst_ip="10.0.0.2"):
    """n random and half-valid frames toward a port: random bytes; valid Ethernet (to `dst`,
    broadcast or a random MAC) with a random ethertype and payload; IPv4 with bad lengths, bad
    header or L4 checksums, bad IHL, random L4; truncated VLAN tags; random ARP. `vlan` (a VID
    or None) is the tag the far side expects: half the IP/ARP frames carry it, so they get past
    the VLAN check into the parsers behind it."""
    out = []
    for i in range(n):
        kind = i % 8
        tag = vlan if (vlan is not None and rng.random() < 0.6) else None
        d = rng.choice([dst, b"\xff" * 6, random_mac(rng)])
        s = rng.choice([src, random_mac(rng)])
        if kind == 0:      # random bytes, 14..1514 (the kernel refuses to send less than a MAC header)
            f = rng.randbytes(rng.choice([rng.randint(14, 20), rng.randint(14, 1514)]))
        elif kind == 1:    # valid Ethernet, random ethertype and payload
            f = eth_header(d, s, rng.randint(0, 0xFFFF), tag) + rng.randbytes(rng.randint(0, 1480))
        elif kind == 2:    # IPv4, bad total length (short or beyond the frame) or bad IHL
            l4 = rng.randbytes(rng.randint(0, 200))
            f = bytearray(ipv4_frame(d, s, src_ip, dst_ip, rng.choice([1, 6, 17, rng.randint(0, 255)]),
                                     l4, tag))
            o = 14 + (4 if tag is not None else 0)
            which = rng.randint(0, 2)
            if which == 0:
                struct.pack_into("!H", f, o + 2, rng.choice([0, 1, 19, 20 + len(l4) + rng.randint(1, 4000), 0xFFFF]))
            elif which == 1:
                f[o] = 0x40 | rng.choice([0, 1, 4, 15])
            else:
                f = f[:max(14, o + rng.randint(0, 19))]     # cut inside the IP header
            f = bytes(f)
        elif kind == 3:    # IPv4 with a bad header checksum, or a bad TCP/UDP/ICMP checksum
            proto = rng.choice([1, 6, 17])
            if proto == 6:
                l4 = bytearray(tcp_segment(src_ip, dst_ip, rng.randint(1, 65535), rng.randint(1, 65535),
                                           rng.randint(0, 255), payload=rng.randbytes(rng.randint(0, 64))))
            elif proto == 17:
                l4 = bytearray(udp_datagram(src_ip, dst_ip, rng.randint(1, 65535), rng.randint(1, 65535),
                                            rng.randbytes(rng.randint(0, 64))))
            else:
                l4 = bytearray(rng.randbytes(rng.randint(0, 64)))
            if rng.random() < 0.5 and len(l4) >= 8:
                l4[rng.randint(0, len(l4) - 1)] ^= 0x5A          # the L4 checksum no longer holds
                f = ipv4_frame(d, s, src_ip, dst_ip, proto, bytes(l4), tag, ttl=rng.randint(0, 255))
            else:
                f = bytearray(ipv4_frame(d, s, src_ip, dst_ip, proto, bytes(l4), tag, ttl=rng.randint(0, 255)))
                o = 14 + (4 if tag is not None else 0)
                f[o + 10] ^= 0xFF                                 # IP header checksum broken
                f = bytes(f)
        elif kind == 4:    # truncated VLAN tags: 802.1Q/802.1ad header cut short, stacked, empty
            tpid = rng.choice([0x8100, 0x88A8, 0x9100])
            f = d + s + struct.pack("!H", tpid) + rng.randbytes(rng.randint(0, 3))
            if rng.random() < 0.3:      # a full outer tag, the inner one cut
                f = d + s + struct.pack("!HH", 0x88A8, rng.randint(0, 0xFFFF)) + struct.pack("!H", 0x8100) \
                    + rng.randbytes(rng.randint(0, 3))
        elif kind == 5:    # random ARP: random opcode/addresses, sometimes cut short
            f = arp_frame(d, s, rng.randint(0, 3), random_mac(rng), random_ip(rng), rng.randbytes(6),
                          random_ip(rng), tag)
            if rng.random() < 0.3:
                f = f[:rng.randint(14, 40)]
            elif rng.random() < 0.3:
                f = eth_header(d, s, 0x0806, tag) + rng.randbytes(rng.randint(0, 60))
        elif kind == 6:    # valid IPv4 with random (unsolicited) TCP/UDP
            if rng.random() < 0.5:
                l4 = tcp_segment(src_ip, dst_ip, rng.randint(1, 65535), rng.randint(1, 65535),
                                 rng.randint(0, 255))
                f = ipv4_frame(d, s, src_ip, dst_ip, 6, l4, tag)
            else:
                l4 = udp_datagram(src_ip, dst_ip, rng.randint(1, 65535), rng.randint(1, 65535),
                                  rng.randbytes(rng.randint(0, 100)))
                f = ipv4_frame(d, s, src_ip, dst_ip, 17, l4, tag)
        else:              # IPv4 fragments and options, random payload
            f = bytearray(ipv4_frame(d, s, src_ip, dst_ip, rng.choice([1, 6, 17]),
                                     rng.randbytes(rng.randint(0, 300)), tag))
            o = 14 + (4 if tag is not None else 0)
            struct.pack_into("!H", f, o + 6, rng.randint(0, 0xFFFF))      # flags + offset
            f[o + 10:o + 12] = b"\0\0"
            struct.pack_into("!H", f, o + 10, _csum(bytes(f[o:o + 20])))
            f = bytes(f)
        if len(f) > 1514:
            f = f[:1514]
        out.append(f)
    return out
