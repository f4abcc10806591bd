import BufferCache
#if canImport(Glibc)
import Glibc
#endif

/// A port in memory, for tests and for `forwarder-bench pipeline`: the real `Worker` runs on it
/// with the kernel out of the way.
///
/// Receive copies frames into the heads, cycling through the frames it was given, while its
/// budget lasts: the copy the pcap port's callback makes out of the kernel ring. Send copies each
/// frame out into a scratch buffer, as a send into a socket would, and can keep what it sent or
/// pretend the socket buffer is full. The frames live in one buffer allocated at init, so neither
/// direction allocates per frame.
public struct MemoryPort: PacketPort, ~Copyable {
    /// Frames still to hand out; receive returns 0 once it is 0.
    public var remaining: Int
    /// Keep a copy of every frame sent in `sent` (tests); off, only `sentCount` counts.
    public var keepSent = true
    public private(set) var sent: [[UInt8]] = []
    public private(set) var sentCount = 0
    /// Sends that report EAGAIN (nothing sent) before one succeeds again.
    public var refuseNextSends = 0
    /// The frame, by `sentCount` index, that the "kernel" refuses with EMSGSIZE (-1: none).
    public var refuseFrameAt = -1

    private var storage: UnsafeMutableRawPointer
    private var offsets: UnsafeMutablePointer<Int>
    private var lengths: UnsafeMutablePointer<Int>
    private var frameCount = 0
    private var nextFrame = 0
    private let sink: UnsafeMutableRawPointer
    private static let sinkSize = 1 << 16

    /// A port that hands out `budget` frames, cycling through `frames`.
    public init(frames: [[UInt8]] = [], budget: Int = 0) {
        remaining = budget
        storage = .allocate(byteCount: 1, alignment: 64)
        offsets = .allocate(capacity: 1)
        lengths = .allocate(capacity: 1)
        sink = .allocate(byteCount: MemoryPort.sinkSize, alignment: 64)
        setFrames(frames)
    }

    deinit {
        storage.deallocate()
        offsets.deallocate()
        lengths.deallocate()
        sink.deallocate()
    }

    /// Replaces the frames receive hands out (and starts again from the first).
    public mutating func setFrames(_ frames: [[UInt8]]) {
        storage.deallocate()
        offsets.deallocate()
        lengths.deallocate()
        let total = frames.reduce(0) { $0 + $1.count }
        storage = .allocate(byteCount: max(total, 1), alignment: 64)
        offsets = .allocate(capacity: max(frames.count, 1))
        lengths = .allocate(capacity: max(frames.count, 1))
        var at = 0
        for (i, f) in frames.enumerated() {
            f.withUnsafeBytes { (storage + at).copyMemory(from: $0.baseAddress!, byteCount: f.count) }
            offsets[i] = at
            lengths[i] = f.count
            at += f.count
        }
        frameCount = frames.count
        nextFrame = 0
    }

    public var pollDescriptor: Int32 { -1 }

    public mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int {
        guard frameCount > 0 else { return 0 }
        let n = min(count, remaining)
        for i in 0..<n {
            let length = lengths[nextFrame]
            let copied = min(length, heads[i].tailroomLimit)
            heads[i].data.copyMemory(from: storage + offsets[nextFrame], byteCount: copied)
            heads[i].length = copied
            heads[i].meta.pointee.wireLength = UInt32(truncatingIfNeeded: length)
            nextFrame = nextFrame + 1 == frameCount ? 0 : nextFrame + 1
        }
        remaining -= n
        return n
    }

    public mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32) {
        if refuseNextSends > 0 {
            refuseNextSends -= 1
            return (0, EAGAIN)
        }
        for i in 0..<count {
            if sentCount == refuseFrameAt {
                refuseFrameAt = -1
                return (i, EMSGSIZE)
            }
            let head = heads[i]
            sink.copyMemory(from: head.data, byteCount: min(head.length, MemoryPort.sinkSize))
            if keepSent { sent.append(Array(UnsafeRawBufferPointer(head.bytes))) }
            sentCount += 1
        }
        return (count, 0)
    }
}
