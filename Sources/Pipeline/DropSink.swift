import BufferCache

/// Where a worker shows the frames it drops (`--capture-drops`): called on the drop path only,
/// with the frame as it was when dropped, before its head goes back. Shared by the workers of
/// every thread, so an implementation locks.
///
/// The worker holds it as an optional and tests it once per dropped frame; a forwarded frame
/// never touches it, and with no sink nothing is built or allocated.
public protocol DropSink: AnyObject, Sendable {
    /// One dropped frame.
    /// - frame: the bytes the head held (possibly cut short by the capture: see `wireLength`).
    /// - wireLength: the frame's length on the wire (≥ `frame.count`).
    /// - reason: `DropReason.key`, or for a processor's drop `nat:<its reason>` (e.g.
    ///   `nat:no_session`).
    /// - direction: the input side of the frame's direction (`.inside`: IN -> OUT).
    /// - interface: the port it was received on, or for `tx_failed` the port it failed to go out of.
    func dropped(_ frame: UnsafeRawBufferPointer, wireLength: Int, reason: String, direction: Side, interface: Side)
}
