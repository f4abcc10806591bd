import Nat44
import Pipeline
import ProcessControl
import Telemetry

/// The control socket's answers for this run: the summary, and, in NAT mode, the workers'
/// tables read and changed through their mailboxes, a bounded chunk per job.
public struct ControlService: Sendable {
    /// NAT mode: each worker's mailbox (in worker order) and the configuration.
    public struct Nat: Sendable {
        let mailboxes: [WorkerMailbox<NatProcessor>]
        let config: NatConfig
        public init(mailboxes: [WorkerMailbox<NatProcessor>], config: NatConfig) {
            self.mailboxes = mailboxes
            self.config = config
        }
    }

    /// Mappings per job: what one worker copies out between two bursts.
    static let sessionsPerJob = 256
    /// How long a worker may take to pick a job up (it does between bursts; a stuck send retries
    /// for well under this).
    static let workerTimeout = 2.0

    /// The summary as of now: its JSON object, or (`text`) its text lines.
    let summary: @Sendable (_ text: Bool) -> [String]
    let nat: Nat?

    public init(summary: @escaping @Sendable (_ text: Bool) -> [String], nat: Nat?) {
        self.summary = summary
        self.nat = nat
    }

    public func answer(_ request: ControlRequest) -> ControlAnswer {
        switch request {
        case .status(let text):
            return .lines(summary(text))
        case .sessions(let query):
            guard let nat else { return notNat("sessions") }
            return query.action == .list ? list(nat, query.filter) : remove(nat, query.filter)
        case .neighbours:
            guard let nat else { return notNat("neighbours") }
            return neighbours(nat)
        case .forwards:
            guard let nat else { return notNat("forwards") }
            return .lines(nat.config.forwards.map { f in
                var o = JSONObject()
                o.add("protocol", f.proto.description)
                o.add("outside_port", Int(f.externalPort))
                o.add("inside", "\(f.internalAddress):\(f.internalPort)")
                return o.text
            })
        case .reload:
            return .failure("reload is not implemented yet: restart the forwarder to apply a changed configuration")
        }
    }

    private func notNat(_ command: String) -> ControlAnswer {
        .failure("\(command): this forwarder is not a NAT gateway (no --vlan-nat)")
    }

    /// Every worker's table in turn, a job per chunk; the answer stops with an error if a worker
    /// does not take its job (it is stopping).
    private func list(_ nat: Nat, _ filter: NatSessionFilter) -> ControlAnswer {
        let cursor = PthreadLocked((worker: 0, slot: 0))
        return .chunks {
            cursor.withLock { c -> ControlAnswer.Chunk in
                guard c.worker < nat.mailboxes.count else { return .end }
                let worker = c.worker, slot = c.slot
                let found = PthreadLocked<(records: [NatSessionRecord], next: Int?)?>(nil)
                let ran = nat.mailboxes[worker].run(timeout: ControlService.workerTimeout) { p in
                    let page = p.sessions(from: slot, limit: ControlService.sessionsPerJob, matching: filter,
                                          now: monotonicNanoseconds())
                    found.withLock { $0 = page }
                }
                guard ran, let page = found.withLock({ $0 }) else { return .failed("worker \(worker) did not answer") }
                if let next = page.next { c.slot = next } else { c = (worker + 1, 0) }
                return .lines(page.records.map { ControlService.sessionLine($0, worker: worker) })
            }
        }
    }

    private func remove(_ nat: Nat, _ filter: NatSessionFilter) -> ControlAnswer {
        var removed = 0
        for (worker, mailbox) in nat.mailboxes.enumerated() {
            let count = PthreadLocked(0)
            guard mailbox.run(timeout: ControlService.workerTimeout, { p in
                let n = p.removeSessions(matching: filter)
                count.withLock { $0 = n }
            }) else { return .failure("worker \(worker) did not answer; \(removed) sessions removed by the others") }
            removed += count.withLock { $0 }
        }
        var o = JSONObject()
        o.add("removed", removed)
        return .lines([o.text])
    }

    private func neighbours(_ nat: Nat) -> ControlAnswer {
        var lines: [String] = []
        for (worker, mailbox) in nat.mailboxes.enumerated() {
            let found = PthreadLocked<[NatNeighbourRecord]>([])
            guard mailbox.run(timeout: ControlService.workerTimeout, { p in
                let records = p.neighbourRecords(now: monotonicNanoseconds())
                found.withLock { $0 = records }
            }) else { return .failure("worker \(worker) did not answer") }
            for n in found.withLock({ $0 }) {
                var o = JSONObject()
                o.add("address", "\(n.address)")
                if let mac = n.mac { o.add("mac", "\(mac)") } else { o.addNull("mac") }
                o.add("side", n.side == .inside ? "inside" : "outside")
                o.add("state", n.state)
                if let ago = n.confirmedAgo { o.add("confirmed_ago", Double(ago) / 1e9) } else { o.addNull("confirmed_ago") }
                o.add("worker", worker)
                lines.append(o.text)
            }
        }
        return .lines(lines)
    }

    static func sessionLine(_ s: NatSessionRecord, worker: Int) -> String {
        var o = JSONObject()
        o.add("protocol", s.proto.description)
        o.add("inside", "\(s.insideAddress):\(s.insidePort)")
        o.add("outside", "\(s.outsideAddress):\(s.outsidePort)")
        if let state = s.tcpState { o.add("state", state) }
        o.add("forward", s.isForward)
        o.add("expires_in", Double(s.expiresIn) / 1e9)
        o.add("worker", worker)
        return o.text
    }
}
