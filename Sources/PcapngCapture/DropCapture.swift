import Pipeline
#if canImport(Glibc)
import Glibc
#endif

/// A file the drop capture could not open or write; the message names it.
public struct DropCaptureError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// `--capture-drops FILE`: every dropped frame, up to a limit, in a pcapng file (a Section Header
/// Block, one Interface Description Block per port with its `if_name`, LINKTYPE_ETHERNET, then an
/// Enhanced Packet Block per frame with a microsecond timestamp and an `opt_comment` such as
/// `oversize in->out` or `nat:no_session out->in`), so `tshark -r FILE -T fields -e frame.comment`
/// says why each was dropped.
///
/// Shared by every worker thread: each frame is written under a pthread mutex (visible to
/// ThreadSanitizer, like HeadPool's). Past the limit frames are only counted (`skipped`). Written
/// through stdio's buffer, flushed at most a second after a frame and at `close()`.
public final class DropCapture: DropSink, @unchecked Sendable {
    public struct Counts: Sendable, Equatable {
        public var written: UInt64 = 0
        public var skipped: UInt64 = 0
        public init(written: UInt64 = 0, skipped: UInt64 = 0) {
            self.written = written
            self.skipped = skipped
        }
    }

    public let path: String
    public let limit: Int
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var file: UnsafeMutablePointer<FILE>?
    private var state = Counts()
    private var lastFlush: UInt64 = 0
    /// Block headers and options are built here (the frame itself is written from the head).
    private let scratch: UnsafeMutableRawPointer
    private static let scratchSize = 4096
    private var writeFailed = false

    /// Creates (or truncates) `path` and writes the section header and one interface block per
    /// name, in `Side` order (interface 0 is IN, 1 is OUT).
    public init(path: String, interfaces: [String], limit: Int) throws(DropCaptureError) {
        self.path = path
        self.limit = limit
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
        scratch = .allocate(byteCount: DropCapture.scratchSize, alignment: 8)
        guard let f = fopen(path, "wb") else {
            let why = String(cString: strerror(errno))
            throw DropCaptureError("--capture-drops: cannot create \(path): \(why)")
        }
        file = f
        writeSectionHeader()
        for name in interfaces { writeInterface(name) }
        if fflush(f) != 0 || writeFailed {
            let why = String(cString: strerror(errno))
            throw DropCaptureError("--capture-drops: cannot write \(path): \(why)")
        }
    }

    deinit {
        close()
        pthread_mutex_destroy(lock)
        lock.deallocate()
        scratch.deallocate()
    }

    /// Frames written and frames past the limit, as of now.
    public var counts: Counts {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return state
    }

    /// Flushes and closes the file; later drops are counted as skipped.
    public func close() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let f = file { fclose(f) }
        file = nil
    }

    public func dropped(_ frame: UnsafeRawBufferPointer, wireLength: Int, reason: String, direction: Side,
                        interface: Side) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard let f = file, state.written < UInt64(limit) else {
            state.skipped &+= 1
            return
        }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let micros = UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec / 1000)
        let comment = reason + (direction == .inside ? " in->out" : " out->in")
        let captured = frame.count
        let commentLength = comment.utf8.count
        let optionsLength = 4 + padded(commentLength) + 4
        let total = 28 + padded(captured) + optionsLength + 4
        var b = Builder(scratch, capacity: DropCapture.scratchSize)
        b.u32(6)                                  // Enhanced Packet Block
        b.u32(UInt32(total))
        b.u32(UInt32(interface.rawValue))
        b.u32(UInt32(truncatingIfNeeded: micros >> 32))
        b.u32(UInt32(truncatingIfNeeded: micros))
        b.u32(UInt32(captured))
        b.u32(UInt32(max(wireLength, captured)))
        put(b.count)
        if captured > 0 { write(frame.baseAddress!, captured) }
        b = Builder(scratch, capacity: DropCapture.scratchSize)
        b.zeros(padded(captured) - captured)
        b.option(1, comment)                      // opt_comment
        b.u32(0)                                  // opt_endofopt
        b.u32(UInt32(total))
        put(b.count)
        state.written &+= 1
        if micros &- lastFlush > 1_000_000 {
            fflush(f)
            lastFlush = micros
        }
    }

    // MARK: blocks

    private func writeSectionHeader() {
        let app = "forwarder"
        let total = 28 + 4 + padded(app.utf8.count) + 4
        var b = Builder(scratch, capacity: DropCapture.scratchSize)
        b.u32(0x0A0D_0D0A)                        // Section Header Block
        b.u32(UInt32(total))
        b.u32(0x1A2B_3C4D)                        // byte-order magic (host order)
        b.u16(1); b.u16(0)                        // version 1.0
        b.u32(0xFFFF_FFFF); b.u32(0xFFFF_FFFF)    // section length: not given
        b.option(4, app)                          // shb_userappl
        b.u32(0)
        b.u32(UInt32(total))
        put(b.count)
    }

    private func writeInterface(_ name: String) {
        let total = 16 + 4 + padded(name.utf8.count) + 4 + 4
        var b = Builder(scratch, capacity: DropCapture.scratchSize)
        b.u32(1)                                  // Interface Description Block
        b.u32(UInt32(total))
        b.u16(1)                                  // LINKTYPE_ETHERNET
        b.u16(0)
        b.u32(0)                                  // snaplen: no limit
        b.option(2, name)                         // if_name
        b.u32(0)
        b.u32(UInt32(total))
        put(b.count)
    }

    private func padded(_ n: Int) -> Int { (n + 3) & ~3 }

    private func put(_ count: Int) { write(UnsafeRawPointer(scratch), count) }

    private func write(_ bytes: UnsafeRawPointer, _ count: Int) {
        guard let f = file else { return }
        if fwrite(bytes, 1, count, f) != count { writeFailed = true }
    }

    /// Little helper writing host-order fields into the scratch buffer.
    private struct Builder {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        var count = 0
        init(_ base: UnsafeMutableRawPointer, capacity: Int) {
            self.base = base
            self.capacity = capacity
        }
        mutating func u16(_ v: UInt16) { bytes(of: v) }
        mutating func u32(_ v: UInt32) { bytes(of: v) }
        mutating func zeros(_ n: Int) {
            precondition(count + n <= capacity)
            (base + count).initializeMemory(as: UInt8.self, repeating: 0, count: n)
            count += n
        }
        private mutating func bytes<T>(of v: T) {
            precondition(count + MemoryLayout<T>.size <= capacity)
            (base + count).storeBytes(of: v, as: T.self)
            count += MemoryLayout<T>.size
        }
        /// An option: code, length, the UTF-8 value padded to 4 bytes.
        mutating func option(_ code: UInt16, _ value: String) {
            var text = value
            text.withUTF8 { utf8 in
                let n = utf8.count
                u16(code)
                u16(UInt16(n))
                precondition(count + n + 3 <= capacity)
                if n > 0 { (base + count).copyMemory(from: utf8.baseAddress!, byteCount: n) }
                count += n
                zeros(((n + 3) & ~3) - n)
            }
        }
    }
}
