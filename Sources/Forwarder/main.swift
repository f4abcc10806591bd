#if canImport(Glibc)
import Telemetry
import ControlSocket
import XdpIO
import Glibc
#endif

// The forwarder's own binary run as its XDP release guard (XdpReleaseGuard, docs/design.md):
// decided before anything else, no option parsing, never in --help.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == XdpReleaseGuard.argument {
    let failures = XdpReleaseGuard.serve(Array(CommandLine.arguments.dropFirst(2)))
    for f in failures { Log.error(f.message, interface: f.interface) }
    exit(failures.isEmpty ? 0 : 1)
}

// `forwarder ctl ...`: a client of a running forwarder's control socket.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "ctl" {
    exit(ControlCommandLine.run(Array(CommandLine.arguments.dropFirst(2))))
}

/// Entry point: parse everything, then run; exit status 0 ok, 1 runtime failure, 2 usage error.
func main() -> Int32 {
    let parsed: Options.Parsed
    let arguments = Array(CommandLine.arguments.dropFirst())
    // Usage errors are JSON only when the command line itself says --log-format json.
    Log.format = LogFormat.given(in: arguments)
    do {
        parsed = try Options.parse(arguments)
    } catch {
        Log.error(error.message)
        return 2
    }
    switch parsed {
    case .help:
        print(usageText)
        return 0
    case .version:
        print("forwarder \(versionLine)")
        return 0
    case .run(let options):
        Log.format = options.logFormat
        do {
            return try Runner(options: options).run()
        } catch {
            Log.error(error.message, interface: error.interface ?? Log.interface(of: error.message, among: [options.inName, options.outName]))
            return 1
        }
    }
}

exit(main())
