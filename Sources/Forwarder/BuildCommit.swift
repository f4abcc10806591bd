/// The git commit this binary was built from, so that `--version` (and a bug report quoting it)
/// names the exact source, not only the release. scripts/package.sh knows the commit when it
/// builds: it writes PackagedBuildCommit.swift beside this file (git ignores it) and builds with
/// `-D FORWARDER_PACKAGED_COMMIT`; a plain `swift build` has no commit to name.
#if !FORWARDER_PACKAGED_COMMIT
let buildCommit = "unknown-commit"
#endif

/// What `--version` prints after "forwarder ": the release (`forwarderVersion`, the one place it
/// is written; the Debian package takes its version from this line) and the commit as semantic
/// versioning's build metadata, "0.1.0+3f2a1bc4d5e6", one word as scripts parse it.
let versionLine = "\(forwarderVersion)+\(buildCommit)"
