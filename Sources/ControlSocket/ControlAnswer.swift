import Telemetry

/// What the forwarder answers to a request: data lines (each one JSON object), produced a
/// chunk at a time so that a table of 100,000 sessions is never held whole, then one final line
/// that the server adds: `{"ok":true,"lines":N}` or `{"ok":false,"error":"..."}`.
public struct ControlAnswer: Sendable {
    /// One step of an answer made a chunk at a time.
    public enum Chunk: Sendable {
        /// The next few (bounded) lines.
        case lines([String])
        /// The answer is complete.
        case end
        /// The answer cannot be completed (a worker did not answer): the lines sent so far stand,
        /// and the final line says why.
        case failed(String)
    }

    enum Body: Sendable {
        case chunks(@Sendable () -> Chunk)
        case failure(String)
    }
    let body: Body

    /// Lines made a chunk at a time: `next` is called on the control thread once per drained
    /// output buffer, until it says `.end` or `.failed`.
    public static func chunks(_ next: @escaping @Sendable () -> Chunk) -> ControlAnswer { ControlAnswer(body: .chunks(next)) }

    /// A short answer, known whole.
    public static func lines(_ lines: [String]) -> ControlAnswer {
        let box = LinesOnce(lines)
        return ControlAnswer(body: .chunks { box.take().map { .lines($0) } ?? .end })
    }

    /// The request could not be carried out; `message` says why and what to do.
    public static func failure(_ message: String) -> ControlAnswer { ControlAnswer(body: .failure(message)) }

    /// The final line of an answer.
    static func finalLine(lines: Int, error: String?) -> String {
        var o = JSONObject()
        o.add("ok", error == nil)
        if let error { o.add("error", error) } else { o.add("lines", lines) }
        return o.text
    }
}

/// A whole answer handed over once (the control thread is its only reader).
private final class LinesOnce: @unchecked Sendable {
    private var lines: [String]?
    init(_ lines: [String]) { self.lines = lines }
    func take() -> [String]? {
        defer { lines = nil }
        return lines
    }
}
