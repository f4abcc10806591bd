// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "forwarder",
    products: [
        .executable(name: "forwarder", targets: ["Forwarder"]),
        .executable(name: "forwarder-bench", targets: ["ForwarderBench"]),
        .library(name: "BufferCache", targets: ["BufferCache"]),
    ],
    targets: [
        // C shim over libpcap and the few Linux calls libpcap lacks (sendmmsg, ethtool, ifreq).
        .target(
            name: "CPcap",
            linkerSettings: [.linkedLibrary("pcap")]
        ),
        // Packet heads, the per-thread cache, the shared pool, the plain allocator. Pure Swift.
        .target(name: "BufferCache"),
        .executableTarget(
            name: "Forwarder",
            dependencies: ["CPcap", "BufferCache"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "ForwarderBench",
            dependencies: ["BufferCache"]
        ),
        // Test support: a malloc interposer that counts calls per thread.
        .target(
            name: "CMallocCounter",
            path: "Tests/Support/CMallocCounter"
        ),
        .testTarget(
            name: "BufferCacheTests",
            dependencies: ["BufferCache", "CMallocCounter"]
        ),
        .testTarget(
            name: "ForwarderTests",
            dependencies: ["Forwarder", "BufferCache", "CMallocCounter"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
