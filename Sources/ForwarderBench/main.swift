import BufferCache
#if canImport(Glibc)
import Glibc
#endif

let usage = """
usage: forwarder-bench alloc [--json] [--rounds N] [--pairs N] [--cache-preset kernel-2021|kernel-2025]
       forwarder-bench layout [--json] [--rounds N] [--pairs N]

  alloc    ns per get+put pair: cache, plain malloc/free and a naive Swift class, bursts of
           1/16/32/64 on one thread and a two-thread hand-off; variants alternate round by round.
  layout   data in the head (one object) vs data from a second cache (head + fragment).
  Build with -c release: `swift run -c release forwarder-bench alloc`.
"""

func fail(_ message: String) -> Never {
    let text = "forwarder-bench: \(message)\n\(usage)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { fail("no command") }
arguments.removeFirst()
if command == "--help" || command == "-h" { print(usage); exit(0) }

var options = AllocBenchmark.Options()
while !arguments.isEmpty {
    let flag = arguments.removeFirst()
    func value() -> String {
        guard !arguments.isEmpty else { fail("\(flag) needs a value") }
        return arguments.removeFirst()
    }
    func positive() -> Int {
        let v = value()
        guard let n = Int(v), n > 0 else { fail("\(flag): '\(v)' is not a positive integer") }
        return n
    }
    switch flag {
    case "--json": options.json = true
    case "--rounds": options.rounds = positive()
    case "--pairs": options.pairs = positive()
    case "--cache-preset":
        let v = value()
        guard let p = HeadCache.Configuration(preset: v) else {
            fail("--cache-preset: '\(v)' is not one of \(HeadCache.Configuration.presetNames.joined(separator: ", "))")
        }
        options.preset = p
    case "--help", "-h": print(usage); exit(0)
    default: fail("unknown option '\(flag)'")
    }
}

switch command {
case "alloc": AllocBenchmark(options: options).run()
case "layout": LayoutBenchmark(options: options).run()
default: fail("unknown command '\(command)'")
}
