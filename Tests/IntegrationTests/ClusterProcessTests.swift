import Foundation
import Glibc
import Presence
import Testing
import Wire

/// Five real `routerd router` processes on loopback, membership over UDP with the `fast`
/// preset: they find each other through one seed; a `kill -9` is declared dead by every
/// other within the preset's bound; SIGTERM leaves at once; a restart rejoins as a new
/// generation while the old one stays dead. `SWITCHBOARD_CLUSTER_PRESET=lan` runs the same
/// steps under the `lan` preset (for the figure in docs/benchmarks.md; about a minute).
@Suite(.serialized, .timeLimit(.minutes(2))) struct ClusterProcessTests {
    private let preset = ProcessInfo.processInfo.environment["SWITCHBOARD_CLUSTER_PRESET"] == "lan" ? "lan" : "fast"
    private var settings: SWIMSettings { preset == "lan" ? .lan : .fast }
    private func start(_ index: Int, base: UInt16, data: String) throws -> RouterdProcess {
        try RouterdProcess.start(index, base: base, data: data, arguments: ["--seeds", "127.0.0.1:\(base + 201)", "--gossipPreset", preset])
    }

    @Test func fiveRouters_findEachOther_seeACrashInTime_aLeaveAtOnce_andARestartAsANewGeneration() throws {
        let base = UInt16(21_000 + Int(getpid() % 200) * 5)
        let data = NSTemporaryDirectory() + "switchboard-cluster-\(getpid())"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        var routers = try (1...5).map { try start($0, base: base, data: data) }
        defer { for router in routers where router.process.isRunning { router.process.terminate() } }
        let alive = "switchboard_cluster_members{state=\"alive\"}", dead = "switchboard_cluster_members{state=\"dead\"}"
        let left = "switchboard_cluster_members{state=\"left\"}"

        let formed = waitUntil(seconds: 20) { routers.allSatisfy { $0.metric(alive) == 4 } }
        #expect(formed != nil, "every router sees the four others alive")

        // kill -9 of router 5: every other declares it dead within the preset's bound for
        // five members, (6 + ⌈log2 5⌉) periods + the longest suspicion: 6.6 s under fast.
        let bound = Double(settings.detectionBound(members: 5)) / 1e9
        kill(routers[4].process.processIdentifier, SIGKILL)
        routers[4].process.waitUntilExit()
        let detected = waitUntil(seconds: bound + 5) { routers[0..<4].allSatisfy { $0.metric(dead) == 1 } }
        print("cluster (\(preset)): kill -9 declared dead by every other router after \(detected.map { String(format: "%.2f s", $0) } ?? "never") (bound \(bound) s)")
        #expect(detected.map { $0 <= bound } == true, "detection took \(String(describing: detected)) s")

        // SIGTERM of router 4: it leaves, and the others know at once (no suspicion).
        routers[3].process.terminate()
        let departed = waitUntil(seconds: 5) { routers[0..<3].allSatisfy { $0.metric(left) == 1 } }
        print("cluster: SIGTERM seen as left after \(departed.map { String(format: "%.2f s", $0) } ?? "never")")
        #expect(departed.map { $0 < 1.5 } == true)

        // Router 5 restarts from its data directory: generation 2, a new member; the old
        // generation stays dead.
        routers[4] = try start(5, base: base, data: data)
        let rejoined = waitUntil(seconds: 20) { routers[0..<3].allSatisfy { $0.metric(alive) == 3 && $0.metric(dead) == 1 } }
        #expect(rejoined != nil, "the others see router 5 again, as a new generation")
        #expect(waitUntil(seconds: 5) { routers[4].metric("switchboard_cluster_generation") == 2 } != nil)
    }
}

/// A `routerd router` (deploy/router.example.json) on loopback for the multi-process tests.
/// Router `index` of a test's cluster listens on base + index (Wire), base + 100 + index
/// (HTTP) and base + 200 + index (gossip), with its data in `<data>/r<index>`.
struct RouterdProcess {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let index: Int
    let process: Process
    let http: UInt16

    static func start(_ index: Int, base: UInt16, data: String, arguments: [String], environment: [String: String] = [:]) throws -> RouterdProcess {
        let process = Process()
        process.executableURL = root.appendingPathComponent(".build/debug/routerd")
        process.arguments = ["router", "--config", root.appendingPathComponent("deploy/router.example.json").path,
                             "--listen", "127.0.0.1:\(base + UInt16(index))", "--http", "127.0.0.1:\(base + 100 + UInt16(index))",
                             "--data", "\(data)/r\(index)", "--gossip", "127.0.0.1:\(base + 200 + UInt16(index))"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment.merging(["SWITCHBOARD_NODE_ID": "router-\(index)"]) { $1 }) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return RouterdProcess(index: index, process: process, http: base + 100 + UInt16(index))
    }

    /// A gauge or counter from the router's /metrics, nil while it does not answer.
    func metric(_ name: String) -> Int? {
        guard let text = httpGet(port: http, path: "/metrics") else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
    }
}

/// Polls a separate process's state until `condition` holds or `seconds` pass; returns the
/// seconds it took, or nil.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Double? {
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
        if condition() { return Date().timeIntervalSince(start) }
        usleep(20_000)
    }
    return nil
}

/// A blocking HTTP/1.1 GET on loopback, for reading a router's /metrics; nil if it does not answer.
func httpGet(port: UInt16, path: String) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard connected == 0 else { return nil }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.1 200"), let body = text.range(of: "\r\n\r\n") else { return nil }
    return String(text[body.upperBound...])
}

/// Two membership nodes on one loop over real UDP: a member the others declared dead joins
/// again as the next generation; push-pull goes over TCP and refuses what is not a table.
@Suite(.timeLimit(.minutes(1))) struct MembershipNodeTests {
    @Test func aLargeTable_crossesByTCP_andGarbageOnTheStreamPortIsRefused() throws {
        let group = EventLoopGroup(loopCount: 1, name: "membership")
        defer { group.shutdown() }
        let loop = group.loops[0]
        let secret = Array("test secret".utf8)
        let a = try loop.submitAndWait {
            UncheckedBox(try MembershipNode.start(loop: loop, me: MemberID(node: "a", generation: 1), bind: SocketAddress("127.0.0.1:0")!,
                                                  settings: .fast, secret: secret, seeds: []))
        }
        let port = try loop.submitAndWait { a.value.address!.port }
        // A table of 300 members (about 10 KB: seven datagrams' worth) in one push-pull.
        let table = (0..<300).map { MembershipUpdate(member: MemberID(node: "router-\($0)", generation: 1), address: "10.0.\($0 / 250).\($0 % 250):7946",
                                                     status: .alive, incarnation: 0) }
        let envelope = SWIMEnvelope(from: MemberID(node: "z", generation: 1), fromAddress: "127.0.0.1:9", message: .pushPull(table: table, reply: true), gossip: [])
        let bytes = try #require(MembershipDatagram.encode(envelope, counter: 1, secret: secret, limit: PushPullStream.maxBytes))
        #expect(bytes.count > MembershipDatagram.maxBytes)
        for payload in [bytes, Array("GET / HTTP/1.1\r\n\r\n".utf8), Array(bytes.prefix(100))] {
            let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            #expect(connected == 0)
            _ = payload.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
            close(socket)
        }
        let heard = Shared(0).wait(seconds: 10) { _ in (try? loop.submitAndWait { a.value.instance.members.count }) ?? 0 >= 300 }
        let seen = try loop.submitAndWait { (a.value.instance.members.count, a.value.metrics) }
        #expect(heard, "every member of the table: \(seen)")
        #expect(Shared(0).wait(seconds: 10) { _ in
            (try? loop.submitAndWait { a.value.metrics.dropped["frame", default: 0] + a.value.metrics.dropped["truncated", default: 0] }) == 2
        }, "the request line and the cut frame are refused")
        try loop.submitAndWait { a.value.stop() }
    }

    @Test func aMemberDeclaredDead_joinsAgainAsTheNextGeneration() throws {
        let group = EventLoopGroup(loopCount: 1, name: "membership")
        defer { group.shutdown() }
        let loop = group.loops[0]
        let secret = Array("test secret".utf8)
        let generations = Shared<UInt64>(1)
        let (a, b) = try loop.submitAndWait { () -> (UncheckedBox<MembershipNode>, UncheckedBox<MembershipNode>) in
            let a = try MembershipNode.start(loop: loop, me: MemberID(node: "a", generation: 1), bind: SocketAddress("127.0.0.1:0")!,
                                             settings: .fast, secret: secret, seeds: [])
            let b = try MembershipNode.start(loop: loop, me: MemberID(node: "b", generation: 1), bind: SocketAddress("127.0.0.1:0")!,
                                             settings: .fast, secret: secret, seeds: ["\(a.address!)"])
            b.nextGeneration = { generations.update { $0 += 1 }; return generations.read { $0 } }
            return (UncheckedBox(a), UncheckedBox(b))
        }
        #expect(Shared(0).wait(seconds: 10) { _ in (try? loop.submitAndWait { a.value.instance.isLive(MemberID(node: "b", generation: 1)) }) == true })
        // b joined by a push-pull with its seed, over TCP on a's gossip port.
        #expect(try loop.submitAndWait { a.value.metrics.pushPullsReceived } > 0)
        // As after a long stall: a tells b it is dead (a datagram as a would send it).
        try loop.submitAndWait {
            let rumour = MembershipUpdate(member: MemberID(node: "b", generation: 1), address: "\(b.value.address!)", status: .dead, incarnation: 0)
            let bytes = MembershipDatagram.encode(SWIMEnvelope(from: a.value.instance.me, fromAddress: "\(a.value.address!)", message: .gossip,
                                                               gossip: [rumour]), counter: 1 << 40, secret: secret)!
            let sender = try UDPSocket(loop: loop, address: SocketAddress("127.0.0.1:0")!) { _, _ in }
            sender.send(bytes, to: b.value.address!)
            sender.close()
        }
        #expect(Shared(0).wait(seconds: 10) { _ in (try? loop.submitAndWait { b.value.instance.me.generation }) == 2 })
        #expect(Shared(0).wait(seconds: 10) { _ in (try? loop.submitAndWait { a.value.instance.isLive(MemberID(node: "b", generation: 2)) }) == true },
                "the others learn the new generation")
        try loop.submitAndWait { a.value.stop(); b.value.stop() }
    }
}

/// Three `routerd router` processes voting in the control plane (Raft over the membership
/// socket, `fast` gossip): they elect one leader and commit the same table; `kill -9` of
/// the leader: the two others elect a new one within the bound and move the dead router's
/// partitions to their in-sync replicas under the next epoch; the killed one comes back
/// from its data directory and catches up from a snapshot.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ControlPlaneProcessTests {
    private func start(_ index: Int, base: UInt16, data: String) throws -> RouterdProcess {
        try RouterdProcess.start(index, base: base, data: data,
                                 arguments: ["--seeds", "127.0.0.1:\(base + 201),127.0.0.1:\(base + 202)", "--gossipPreset", "fast",
                                             "--voters", "router-1,router-2,router-3"],
                                 environment: ["SWITCHBOARD_REPLICAS": "2", "SWITCHBOARD_CONTROL_SNAPSHOT_ENTRIES": "16"])
    }

    @Test func threeVoters_electOneLeader_replaceAKilledOne_andItCatchesUpFromASnapshot() throws {
        // Below the ephemeral range (32768 and up), where outgoing connections could hold a port.
        let base = UInt16(24_000 + Int(getpid() % 100) * 5)
        let data = NSTemporaryDirectory() + "switchboard-control-\(getpid())"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        var routers = try (1...3).map { try start($0, base: base, data: data) }
        defer { for router in routers where router.process.isRunning { router.process.terminate() } }

        // One leader, and every router holds the whole first placement.
        let settled = waitUntil(seconds: 30) {
            routers.compactMap { $0.metric("switchboard_control_leader") }.reduce(0, +) == 1
                && routers.allSatisfy { $0.metric("switchboard_control_table_version").map { $0 >= 64 } == true }
        }
        let seen = routers.map { router in
            ["leader", "term", "table_version", "commit_index"].map { "\($0)=\(router.metric("switchboard_control_\($0)").map(String.init) ?? "?")" }
                .joined(separator: " ") + " alive=\(router.metric("switchboard_cluster_members{state=\"alive\"}").map(String.init) ?? "?")"
        }
        #expect(settled != nil, "a leader, and the table placed everywhere: \(seen)")
        let leader = try #require(routers.firstIndex { $0.metric("switchboard_control_leader") == 1 })
        let term = routers[leader].metric("switchboard_control_term") ?? 0

        kill(routers[leader].process.processIdentifier, SIGKILL)
        routers[leader].process.waitUntilExit()
        let others = routers.indices.filter { $0 != leader }
        // A new leader: election timeouts of 150-300 ms, a pre-vote round, and the followers'
        // leader lease (they must stop hearing the old one first): well within 2 s.
        let elected = waitUntil(seconds: 10) {
            others.compactMap { routers[$0].metric("switchboard_control_leader") }.reduce(0, +) == 1
                && others.allSatisfy { (routers[$0].metric("switchboard_control_term") ?? 0) > term }
        }
        print("control: a new leader \(elected.map { String(format: "%.2f s", $0) } ?? "never") after kill -9 of the leader")
        #expect(elected.map { $0 < 2 } == true, "took \(String(describing: elected)) s")
        // Once membership declares it dead, its partitions move: the table grows on both.
        let before = routers[others[0]].metric("switchboard_control_table_version") ?? 0
        #expect(waitUntil(seconds: 15) { others.allSatisfy { (routers[$0].metric("switchboard_control_table_version") ?? 0) > before } } != nil,
                "the dead router's partitions go to their in-sync replicas")

        // Back from its data directory: it catches up, from a snapshot (its log is far behind).
        routers[leader] = try start(leader + 1, base: base, data: data)
        let caughtUp = waitUntil(seconds: 20) {
            let target = routers[others[0]].metric("switchboard_control_table_version")
            return target != nil && routers[leader].metric("switchboard_control_table_version") == target
                && (routers[leader].metric("switchboard_control_snapshots_installed_total") ?? 0) >= 1
        }
        #expect(caughtUp != nil, "the returning router has the same table, installed from a snapshot")
    }
}

/// One `routerd router` process hosting three routers (`instances`), one event loop each:
/// they vote together, split the partitions, and all leave on SIGTERM.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RoutersInOneProcessTests {
    @Test func threeInstances_formOneCluster_andSplitThePartitions() throws {
        let base = UInt16(25_000 + Int(getpid() % 100) * 5)
        let data = NSTemporaryDirectory() + "switchboard-instances-\(getpid())"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        var config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: RouterdProcess.root.appendingPathComponent("deploy/router.example.json"))) as? [String: Any])
        config["voters"] = ["router-1", "router-2", "router-3"]
        config["seeds"] = (1...3).map { "127.0.0.1:\(base + 200 + UInt16($0))" }
        config["gossipPreset"] = "fast"
        config["instances"] = (1...3).map { n in
            ["nodeId": "router-\(n)", "listen": "127.0.0.1:\(base + UInt16(n))", "http": "127.0.0.1:\(base + 100 + UInt16(n))",
             "data": "\(data)/r\(n)", "gossip": "127.0.0.1:\(base + 200 + UInt16(n))"]
        }
        let file = "\(data)/router.json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = RouterdProcess.root.appendingPathComponent(".build/debug/routerd")
        process.arguments = ["router", "--config", file]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let routers = (1...3).map { RouterdProcess(index: $0, process: process, http: base + 100 + UInt16($0)) }
        let split = waitUntil(seconds: 30) {
            let owned = routers.compactMap { $0.metric("switchboard_router_partitions_owned") }
            return owned.count == 3 && owned.reduce(0, +) == 64 && owned.allSatisfy { $0 > 0 }
        }
        #expect(split != nil, "three routers in one process each serve a share of the 64 partitions")
        #expect(routers.compactMap { $0.metric("switchboard_control_leader") }.reduce(0, +) == 1, "one leader among them")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
