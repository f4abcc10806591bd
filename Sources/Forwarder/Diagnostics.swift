import Telemetry

/// An error line on stderr (`forwarder: message`); `Log.error` with no interface.
func printError(_ message: String) {
    Log.error(message)
}
