// swift-tools-version:6.0
import PackageDescription

// One library per idea, read along the data path: a port (PcapIO over CPcap) receives a burst
// into heads from the cache (BufferCache), the pipeline (Pipeline) runs each frame through a
// processor (VlanTranslation, Nat44), a port sends it; PacketFormats holds the header formats they
// share, NetDevice (over CLinux) what the system says about an interface. docs/design.md has the
// picture. Every target uses the Swift 6 language mode.
//
// The hot path crosses module boundaries (the executable specialises Worker<HeadCache,
// NatProcessor, PcapPort>), so the libraries on it are built with cross-module optimisation: their
// generic bodies are serialised and specialised where they are used, as @inlinable would do.
let crossModule: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "forwarder",
    products: [
        .executable(name: "forwarder", targets: ["Forwarder"]),
        .executable(name: "forwarder-bench", targets: ["ForwarderBench"]),
        .library(name: "BufferCache", targets: ["BufferCache"]),
    ],
    targets: [
        // C shim over libpcap: open a port (status code + text), receive and send bursts, kernel
        // counters, the filter pre-check.
        .target(name: "CPcap", dependencies: ["CLinux"], linkerSettings: [.linkedLibrary("pcap")]),
        // C shim over libxdp's xsk API (and libbpf): one UMEM per worker shared by an AF_XDP socket
        // on each interface, fill/completion rings in bursts, frame accounting (shim.c); the XDP
        // program on an interface: look it up, name it, detach it (program.c).
        .target(name: "CXdp", dependencies: ["CLinux"], linkerSettings: [.linkedLibrary("xdp"), .linkedLibrary("bpf")]),
        // C shim over Linux: the netdev facts libpcap lacks (ifreq, ethtool, sysfs), thread names,
        // the release guard's spawn, least privilege; the helpers CPcap and CXdp share.
        .target(name: "CLinux"),
        // Packet heads, the per-thread cache, the shared pool, the plain allocator. Pure Swift.
        .target(name: "BufferCache"),
        // Byte order, Ethernet and VLAN headers, IPv4 addresses, the Internet checksum.
        .target(name: "PacketFormats", dependencies: ["BufferCache"], swiftSettings: crossModule),
        // PacketPort, FrameProcessor, the Worker loop and its launcher, port sets, counters, the
        // in-memory port.
        .target(name: "Pipeline", dependencies: ["BufferCache", "PacketFormats", "ProcessControl"],
                swiftSettings: crossModule),
        // `--vlan-map`: stateless VLAN translation.
        .target(name: "VlanTranslation", dependencies: ["Pipeline", "PacketFormats", "BufferCache"],
                swiftSettings: crossModule),
        // `--vlan-nat`: the NAT44 gateway (NAPT, ARP, ICMP, fragments).
        .target(name: "Nat44", dependencies: ["Pipeline", "PacketFormats", "BufferCache"],
                swiftSettings: crossModule),
        // The libpcap port (a PacketPort over CPcap) and its port set (fanout groups).
        .target(name: "PcapIO", dependencies: ["CPcap", "Pipeline", "PacketFormats", "BufferCache"], swiftSettings: crossModule),
        // `--filter`: the expression checked, and compiled and run in user space where the kernel
        // does not run it (AF_XDP); libpcap's compiler and interpreter (through CPcap).
        .target(name: "PacketFilter", dependencies: ["CPcap", "PacketFormats"], swiftSettings: crossModule),
        // The AF_XDP port (a PacketPort over CXdp) and its port set (a UMEM pair per worker): `--io xdp`;
        // the XDP program's ownership, retries and fallbacks (over CXdp's thin calls).
        .target(name: "XdpIO", dependencies: ["CXdp", "CLinux", "NetDevice", "ProcessControl", "Pipeline", "BufferCache", "PacketFilter"],
                swiftSettings: crossModule),
        // What the system says about an interface: index, MAC, MTU, driver, offloads, addresses.
        .target(name: "NetDevice", dependencies: ["CLinux", "PacketFormats"]),
        // `--capture-drops`: dropped frames into a pcapng file, the reason as each one's comment.
        .target(name: "PcapngCapture", dependencies: ["Pipeline"]),
        // Options from the command line and from configuration files, against one option table.
        .target(name: "Configuration"),
        // How the forwarder reports to people and machines: log lines, JSON objects.
        .target(name: "Telemetry"),
        // What a run reports, from its counters: the text and JSON summary, the stats line, the
        // metrics file.
        .target(name: "Reports", dependencies: ["Telemetry", "Pipeline", "BufferCache", "Nat44", "XdpIO", "PcapngCapture",
                                                "ProcessControl"]),
        // A long-running process's threads and signals: named threads, the stop and snapshot
        // requests (SIGINT/SIGTERM, SIGUSR1) behind wake pipes, the first failure.
        .target(name: "ProcessControl", dependencies: ["CLinux"]),
        // The control socket (`--control`, `forwarder ctl`): one JSON request per line, answers
        // made a chunk at a time, served by a thread of its own; the client.
        .target(name: "ControlSocket", dependencies: ["Nat44", "PacketFormats", "Pipeline", "ProcessControl", "Telemetry"]),
        // The `forwarder` executable: CLI, set-up, threads, stats.
        .executableTarget(
            name: "Forwarder",
            dependencies: ["BufferCache", "PacketFormats", "Pipeline", "VlanTranslation", "Nat44", "PcapIO", "XdpIO",
                           "PacketFilter", "NetDevice", "Configuration", "Telemetry", "Reports", "ProcessControl", "PcapngCapture",
                           "ControlSocket"]
        ),
        .executableTarget(
            name: "ForwarderBench",
            dependencies: ["BufferCache", "PacketFormats", "Pipeline", "VlanTranslation", "Nat44"]
        ),
        // The libFuzzer target (scripts/fuzz.sh builds it with -D FORWARDER_FUZZ -sanitize=fuzzer,address);
        // in the normal build a replay tool for fuzz inputs. Never links CMallocCounter (it breaks ASan).
        .executableTarget(name: "ForwarderFuzz", dependencies: ["BufferCache", "PacketFormats", "Pipeline", "VlanTranslation", "Nat44"]),
        // Test support: a malloc interposer that counts calls per thread.
        .target(name: "CMallocCounter", path: "Tests/Support/CMallocCounter"),
        // Test support: pcap fixtures, heads from bytes, an independent checksum verifier.
        .target(name: "PacketFixtures", dependencies: ["BufferCache"], path: "Tests/Support/PacketFixtures"),
        // Test support: veth pairs the kernel-facing tests create and delete.
        .target(name: "VethFixtures", path: "Tests/Support/VethFixtures"),
        .testTarget(name: "BufferCacheTests", dependencies: ["BufferCache", "CMallocCounter"]),
        .testTarget(name: "PacketFormatsTests", dependencies: ["PacketFormats", "PacketFixtures"]),
        .testTarget(name: "PipelineTests",
                    dependencies: ["Pipeline", "BufferCache", "VlanTranslation", "ProcessControl", "CMallocCounter"]),
        .testTarget(name: "VlanTranslationTests",
                    dependencies: ["VlanTranslation", "Pipeline", "PacketFormats", "BufferCache", "PacketFixtures"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "Nat44Tests",
                    dependencies: ["Nat44", "Pipeline", "PacketFormats", "BufferCache", "PacketFixtures", "ProcessControl",
                                   "CMallocCounter"],
                    resources: [.copy("Fixtures")]),
        // Against the kernel: veth pairs the tests create and delete (root; skipped otherwise).
        .testTarget(name: "PcapIOTests", dependencies: ["PcapIO", "PacketFilter", "Pipeline", "PacketFormats", "BufferCache", "PacketFixtures", "VethFixtures"]),
        .testTarget(name: "XdpIOTests", dependencies: ["XdpIO", "CXdp", "PcapIO", "Pipeline", "BufferCache", "PacketFixtures", "VethFixtures",
                                                 "CMallocCounter"]),
        .testTarget(name: "NetDeviceTests", dependencies: ["NetDevice", "PacketFormats", "VethFixtures"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration"]),
        .testTarget(name: "ControlSocketTests", dependencies: ["ControlSocket", "Nat44", "PacketFormats"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"]),
        .testTarget(name: "ProcessControlTests", dependencies: ["ProcessControl", "VethFixtures"]),
        .testTarget(name: "PcapngCaptureTests", dependencies: ["PcapngCapture", "Pipeline"]),
        // The planted leak scripts/sanitize.sh expects LeakSanitizer to report (skipped elsewhere).
        .testTarget(name: "LeakCheckTests", dependencies: ["BufferCache"]),
        .testTarget(name: "ForwarderTests",
                    dependencies: ["Forwarder", "Nat44", "VlanTranslation", "PacketFormats", "Telemetry", "Configuration",
                                   "BufferCache", "Pipeline", "PcapngCapture", "XdpIO", "Reports", "ControlSocket"]),
    ]
)
