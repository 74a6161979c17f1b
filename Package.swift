// swift-tools-version:6.0
// Switchboard: a live-chat operator-routing cluster. No package dependencies by design:
// Foundation, Dispatch, the toolchain's test libraries and the system liblz4 only.
import PackageDescription

let package = Package(
    name: "Switchboard",
    products: [
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "Router", targets: ["Router"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "Presence", targets: ["Presence"]),
        .executable(name: "loadgen", targets: ["loadgen"]),
        .executable(name: "routerd", targets: ["routerd"]),
    ],
    targets: [
        // System headers and liblz4 (Debian: liblz4-dev).
        .systemLibrary(
            name: "CLinux",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        // Everything on the wire: frames, messages, LZ4, crypto, handshake, the epoll transport.
        .target(name: "Wire", dependencies: ["CLinux"]),
        // Routing: partitions, operator homes, skill queues, the durable log.
        .target(name: "Router", dependencies: ["Wire", "CLinux"]),
        // Cluster membership and placement (so far: the partition map by rendezvous hashing).
        .target(name: "Presence", dependencies: ["Wire"]),
        // The gateway: visitor and operator connections.
        .target(name: "Gateway", dependencies: ["Wire"]),
        // The daemon: `routerd dev` (router + gateway + demo site in one process).
        .executableTarget(name: "routerd", dependencies: ["Wire", "Router", "Gateway", "Presence"]),
        // The load generator and benchmark scenarios.
        // (It drives the router core directly for the routing and log scenarios issue #3 asks for.)
        .executableTarget(name: "loadgen", dependencies: ["Wire", "Router", "Presence"]),
        // Fast deterministic unit tests: no sockets, no clock, no sleeping.
        .testTarget(name: "WireTests", dependencies: ["Wire"], exclude: ["Fixtures"]),
        // Router state machines with a manual clock and seeded randomness; the log on a temp dir.
        .testTarget(name: "RouterTests", dependencies: ["Router"]),
        .testTarget(name: "PresenceTests", dependencies: ["Presence"]),
        // Gateway logic: tokens, rate limits, static files, upgrade checks.
        .testTarget(name: "GatewayTests", dependencies: ["Gateway"]),
        // Unit tests of loadgen's measuring parts (histogram, argument parsing).
        .testTarget(name: "LoadgenTests", dependencies: ["loadgen"]),
        // Real loopback sockets, threads and processes, each test bounded in time.
        .testTarget(name: "IntegrationTests", dependencies: ["Wire", "Router", "Gateway", "Presence"]),
    ],
    swiftLanguageModes: [.v6]
)
