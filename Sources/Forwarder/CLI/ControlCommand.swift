import ControlSocket
import Telemetry

/// `forwarder ctl ...`: one request to a running forwarder's control socket, its answer on
/// stdout. Exit status 0 when it answered, 1 when it cannot be reached or refuses, 2 for a
/// usage error.
enum ControlCommand {
    static func run(_ words: [String]) -> Int32 {
        do throws(ControlError) {
            guard let invocation = try ControlCommandLine.parse(words) else {
                print(ControlCommandLine.usage)
                return 0
            }
            let path = try ControlCommandLine.socketPath(invocation)
            let outcome = try ControlClient.send(invocation.request, to: path) { line in
                print(invocation.json ? line : ControlCommandLine.text(line, for: invocation.request))
            }
            if let error = outcome.error {
                Log.error(error)
                return 1
            }
            if !invocation.json, case .sessions(let q) = invocation.request, q.action == .list {
                print("\(outcome.lines) session\(outcome.lines == 1 ? "" : "s")")
            }
            return 0
        } catch {
            Log.error(error.message)
            return error.kind == .usage ? 2 : 1
        }
    }
}
