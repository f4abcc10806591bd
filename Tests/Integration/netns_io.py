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
