import BufferCache
import Configuration
import Pipeline
import ProcessControl

/// How the work is spread and how frames enter and leave the kernel: `--workers`, `--cpus`,
/// `--remote-frees`, `--nat-steering` and the kernel-path switches. Parsed as read, like the
/// NAT options, and checked against this machine's CPUs before any interface is touched.
struct ParallelOptions {
    static let flags: Set<String> = [
        "--workers", "--cpus", "--remote-frees", "--nat-steering",
        "--qdisc-bypass", "--tx-ring", "--fanout-rollover", "--fanout-defrag",
    ]

    enum Steering: String, CaseIterable {
        /// A classic BPF fanout program puts most NAT frames on their owner's socket.
        case bpf
        /// The kernel's flow hash only: frames that land on the wrong worker are handed off.
        case none
    }

    /// Workers per interface: each has its own socket on both interfaces (one fanout group per
    /// interface when there are several) and its own head cache.
    var workers = 1
    /// `--workers auto`: one per online CPU; over AF_XDP also at most one per RX queue (the
    /// ports settle it).
    var workersAuto = false
    /// `--cpus`: worker i runs on `cpus[i % count]`; nil leaves placement to the scheduler.
    var cpus: [Int]?
    var remoteFrees = HeadCache.RemoteFreePolicy.returnHome
    var steering = Steering.bpf
    var qdiscBypass = false
    /// On by default: it measured 0.88-0.90x the CPU per frame of sendmmsg (docs/benchmarks.md 3.5).
    var txRing = true
    var fanoutRollover = false
    var fanoutDefrag = false

    mutating func take(_ flag: String, _ value: String) throws(ConfigurationError) {
        switch flag {
        case "--workers":
            workersAuto = value == "auto"
            workers = workersAuto ? min(JoinableThread.onlineCPUs, HandOffMesh.maxWorkers) : try Self.workerCount(value)
        case "--cpus": cpus = try Self.cpuList(value)
        case "--remote-frees":
            remoteFrees = try OptionValue.choice(flag, value, "a policy")
        case "--nat-steering":
            steering = try OptionValue.choice(flag, value, "a steering")
        case "--qdisc-bypass": qdiscBypass = try OptionValue.onOff(flag, value)
        case "--tx-ring": txRing = try OptionValue.onOff(flag, value)
        case "--fanout-rollover": fanoutRollover = try OptionValue.onOff(flag, value)
        case "--fanout-defrag": fanoutDefrag = try OptionValue.onOff(flag, value)
        default: preconditionFailure("not a parallelism option: \(flag)")
        }
    }

    /// The CPU worker `index` is pinned to, if any.
    func cpu(forWorker index: Int) -> Int? { cpus.map { $0[index % $0.count] } }

    private static func workerCount(_ value: String) throws(ConfigurationError) -> Int {
        guard let n = Int(value) else {
            throw ConfigurationError("--workers: '\(value)' is not a number of workers; use 1 to \(HandOffMesh.maxWorkers) or auto")
        }
        guard n >= 1 && n <= HandOffMesh.maxWorkers else {
            throw ConfigurationError("--workers: \(n) is out of range; use 1 to \(HandOffMesh.maxWorkers) or auto")
        }
        return n
    }

    /// `0,2,4-6`: CPUs this process may run on, each at most once.
    private static func cpuList(_ value: String) throws(ConfigurationError) -> [Int] {
        let list = try OptionValue.numberList("--cpus", value, max: 4095, what: "CPU")
        for cpu in list where !JoinableThread.mayRun(on: cpu) {
            throw ConfigurationError("--cpus: CPU \(cpu) is not available to this process "
                + "(online: 0-\(JoinableThread.onlineCPUs - 1); see nproc and taskset -p $$)")
        }
        return list
    }
}
