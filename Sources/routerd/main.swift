import Foundation
import Gateway
import Presence
import Router
import Wire

/// routerd: the Switchboard daemon. `dev` runs a router and a gateway in one process with a
/// demo site; `router` and `gateway` run them as separate processes from configuration files.
let usage = """
usage: routerd <command> [options]   (routerd <command> --help for its options)

commands:
  dev       a router and a gateway in one process, with a demo site (the quickest start)
  router    a router: partitions, queues, the durable log; serves gateways over Wire
  gateway   a gateway: HTTP and WebSocket for browsers, forwarding to a router
"""

let routerUsage = """
routerd router --config FILE [--listen HOST:PORT] [--advertise HOST:PORT] [--http HOST:PORT] [--data DIR]
               [--gossip HOST:PORT] [--seeds HOST:PORT,...] [--gossipPreset lan|fast] [--voters NODE,...]
               [--initialRouters NODE,...] [--repair]

Runs a router from a JSON configuration file (docs/operations.md): nodeId, cluster,
clusterSecret, listen (Wire, default 127.0.0.1:7400), advertise (the Wire address other
routers and gateways reach it at; default listen), http (health and metrics, default
127.0.0.1:9400), data, partitions (default 64), fsync (always | interval | none), sites;
for a cluster, gossip (the UDP address of membership probes and gossip), seeds (other
routers' gossip addresses to join through), gossipPreset (lan, the default, or fast;
docs/cluster.md), voters (the control plane's 1, 3 or 5 voting routers; default this one
alone), initialRouters (the routers the first placement of partitions waits for, up to
10 s; default the voters) and replicas (copies of each partition in the table, default 1).
The router serves once the control plane has placed every partition. With instances (a
list of objects with nodeId, listen, advertise, http, data, gossip), one process hosts
that many routers, one event loop each, sharing the file's other settings.
Flags and SWITCHBOARD_<SETTING> environment variables (SWITCHBOARD_NODE_ID,
SWITCHBOARD_CLUSTER_SECRET, SWITCHBOARD_DATA, ...) override the file. An invalid
configuration stops the start with a message naming the field.

A log damaged in the middle (not just a last write cut short) stops the start with an
error naming the file and byte. --repair then starts anyway: it cuts the log at the
damage and deletes later segments, losing what they held (docs/storage.md). Copy the
data directory first.
"""

let gatewayUsage = """
routerd gateway --config FILE [--listen HOST:PORT] [--router HOST:PORT] [--messageRate N]
                [--maxConnections N] [--connectionsPerAddress N]

Runs a gateway from a JSON configuration file (docs/operations.md): nodeId, cluster,
clusterSecret, listen (HTTP, default 127.0.0.1:8080), router (default 127.0.0.1:7400),
sites (id and token secret of each), trustedProxies, web, messageRate (chat messages a
browser may send per second, bursts of twice that; default 20), maxConnections (default
50,000) and connectionsPerAddress (default 256, 0 for no limit; trusted proxies are not
limited): connections past them are answered 503 and closed. Flags and
SWITCHBOARD_<SETTING> environment variables override the file.
"""

let devUsage = """
routerd dev: a router and a gateway in one process, with a demo shop site.

Options:
  --data DIR        data directory (default: a fresh temporary directory)
  --http HOST:PORT  gateway HTTP/WebSocket address (default 127.0.0.1:8080; port 0 picks one)
  --wire HOST:PORT  router Wire address (default 127.0.0.1:7400; port 0 picks one)
  --web DIR         static files to serve (default ./web if it exists)
  --fsync POLICY    always | interval | none (default always)
  --load-operators N  add N operators load-0 … with every department and 10 chats each,
                    password "load-demo" (for `loadgen chat`; default 0)
  --load-capacity C  chats each load operator takes at once (default 10)
  --message-rate R  WebSocket messages a client may send per second (default 20; load
                    tests raise it)
  --connections-per-address N  connections one client address may hold (default 256;
                    0 for no limit: load tests from one loopback address)
  --max-connections N  connections the gateway holds in all (default 50,000)

Prints the URLs and the demo credentials, logs one line per event, and on SIGTERM or
SIGINT stops accepting, flushes the log and exits 0.
"""

/// The daemon's logger; the router and gateway libraries get their own from it.
let logger = Logger(label: "routerd")

/// One structured log line: time, level, message, key=value fields.
func log(_ level: Logger.Level, _ message: String, _ fields: [(String, String)] = []) {
    logger.log(level, message, fields: fields)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("routerd: \(message)\n".utf8))
    exit(2)
}

/// Reads `--name value` options; unknown ones are refused by name.
func options(_ raw: [String], known: Set<String>) -> [String: String] {
    var values: [String: String] = [:]
    var index = 0
    while index < raw.count {
        let flag = raw[index]
        guard flag.hasPrefix("--"), known.contains(String(flag.dropFirst(2))) else { fail("unknown option \(flag)") }
        guard index + 1 < raw.count else { fail("\(flag) needs a value") }
        values[String(flag.dropFirst(2))] = raw[index + 1]
        index += 2
    }
    return values
}


/// SIGTERM and SIGINT, blocked in every thread from the start (threads inherit the mask),
/// so the main thread alone takes them, synchronously, with `sigwait`.
func stopSignals() -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGINT)
    return set
}

/// Blocks until SIGTERM or SIGINT.
func waitForStopSignal() {
    var set = stopSignals()
    var received: Int32 = 0
    sigwait(&set, &received)
}

/// Prints `usage` and exits 0 when the arguments ask for help.
func exitWithUsageIfAsked(_ raw: [String], _ usage: String) {
    guard raw.contains("--help") || raw.contains("-h") else { return }
    print(usage)
    exit(0)
}

/// The configuration file named by `--config`, with flags and environment applied.
func loadConfig(_ values: [String: String], keys: Set<String>, numeric: Set<String> = []) -> [String: Any] {
    guard let path = values["config"] else { fail("--config FILE is required") }
    do {
        var flags = values
        flags["config"] = nil
        return overriding(try readConfigFile(path), flags: flags, keys: keys, numeric: numeric)
    } catch {
        fail("\(error)")
    }
}

func runRouter(_ raw: [String]) -> Never {
    exitWithUsageIfAsked(raw, routerUsage)
    let repair = raw.contains("--repair")
    let values = options(raw.filter { $0 != "--repair" }, known: ["config", "listen", "advertise", "http", "data", "gossip", "seeds", "gossipPreset",
                                                                  "voters", "initialRouters"])
    let configs: [RouterConfig]
    do {
        configs = try routerConfigs(loadConfig(values, keys: RouterConfig.keys.union(["instances"]),
                                               numeric: ["partitions", "replicas", "controlSnapshotEntries"]))
        guard Set(configs.map(\.identity.nodeID)).count == configs.count else {
            throw ConfigError(field: "instances", problem: "must give each router its own nodeId")
        }
    } catch {
        fail("\(error)")
    }
    let routers = configs.map(RouterInstance.init)
    do {
        // Every router's control plane first: voters hosted together elect before any waits for the table.
        for router in routers { try router.startControlPlane() }
        for router in routers { try router.serve(repair: repair) }
    } catch {
        fail("cannot start: \(error)")
    }
    waitForStopSignal()
    log(.info, "draining")
    for router in routers { router.stop() }
    log(.info, "stopped")
    exit(0)
}

/// Joins the cluster's membership as (node id, the next generation of this data directory).
func startMembership(_ config: RouterConfig, bind: SocketAddress, loop: EventLoop) throws -> UncheckedBox<MembershipNode> {
    let generation = try Generation.next(dataDirectory: config.data)
    let me = MemberID(node: config.identity.nodeID, generation: generation)
    // A key of its own for membership datagrams, bound to the cluster's name: a datagram of
    // another cluster, or anything else signed with the secret, is not one.
    let key = HMACSHA256.authenticate(message: Array("switchboard membership \(config.identity.cluster)".utf8), key: config.identity.clusterSecret)
    let node = try loop.submitAndWait {
        let node = try MembershipNode.start(loop: loop, me: me, bind: bind, settings: config.gossipPreset, secret: key, seeds: config.seeds)
        node.onChange = { member, status in log(.info, "cluster member \(status)", [("member", "\(member)")]) }
        node.nextGeneration = { try Generation.next(dataDirectory: config.data) }
        node.onRejoin = { member in
            log(.warning, "the cluster declared this router dead (unreachable too long): joined again as a new generation", [("member", "\(member)")])
        }
        return UncheckedBox(node)
    }
    log(.info, "cluster membership started", [("member", "\(me)"), ("gossip", "\(bind)"), ("seeds", config.seeds.joined(separator: ","))])
    return node
}

/// Starts this router's member of the control plane (its Raft log in `<data>/control`).
func startControl(_ config: RouterConfig, membership: UncheckedBox<MembershipNode>?, loop: EventLoop) throws -> UncheckedBox<ControlNode> {
    let node = try loop.submitAndWait {
        let control = try ControlNode.start(loop: loop, node: config.identity.nodeID, membership: membership?.value, directory: config.data + "/control",
                                            voters: config.voters, partitionCount: config.partitions, replicas: config.replicas,
                                            settings: .lan(), compactionThreshold: RaftIndex(config.controlSnapshotEntries),
                                            seed: UInt64.random(in: 0...UInt64.max))
        control.initialRouters = Set(config.initialRouters)
        control.onLeaderChanged = { leader, term in
            log(.info, "control plane leader", [("leader", leader?.name ?? "none"), ("term", "\(term)")])
        }
        return UncheckedBox(control)
    }
    log(.info, "control plane started", [("voters", config.voters.joined(separator: ",")), ("replicas", "\(config.replicas)")])
    if config.replicas > 1 {
        log(.warning, "replicas above 1 move a dead router's partitions, but routers do not copy partitions to each other yet: a moved partition starts from what its new owner holds")
    }
    return node
}

/// Blocks until the control plane's table has an owner for every partition, and returns it
/// (a router alone: its group of one elects itself and places everything within a second).
func waitForPlacement(_ control: UncheckedBox<ControlNode>, loop: EventLoop) -> PartitionTable {
    let started = MonotonicClock.now()
    var lastReport = started
    while true {
        let (table, leader) = (try? loop.submitAndWait { (control.value.table, control.value.raft.leader?.name) }) ?? (nil, nil)
        if let table, !table.partitions.contains(where: { $0.owner == nil }) { return table }
        if MonotonicClock.now() - lastReport >= 5_000_000_000 {
            lastReport = MonotonicClock.now()
            let placed = table?.partitions.filter { $0.owner != nil }.count ?? 0
            log(.info, "waiting for the control plane to place every partition (a majority of the voters must be up)",
                [("leader", leader ?? "none"), ("placed", "\(placed) of \(table?.partitions.count ?? 0)")])
        }
        usleep(50_000)
    }
}

/// From now on, every committed table reaches the router (and through it, the gateways).
func follow(_ control: ControlNode, service: RouterService, routing: ClusterRouting) {
    control.onTableChanged = { table in routing.tableChanged(table) }
    service.controlStatus = { ControlListing.status(of: control) }
    routing.tableChanged(control.table)
}

func runGateway(_ raw: [String]) -> Never {
    exitWithUsageIfAsked(raw, gatewayUsage)
    let values = options(raw, known: ["config", "listen", "router", "messageRate", "maxConnections", "connectionsPerAddress"])
    let config: GatewayConfig
    do {
        config = try GatewayConfig(loadConfig(values, keys: GatewayConfig.keys, numeric: ["messageRate", "maxConnections", "connectionsPerAddress"]))
    } catch {
        fail("\(error)")
    }
    let wire = config.identity.wire(role: .gateway)
    var configuration = GatewayConfiguration(siteSecrets: config.siteSecrets, router: config.router, wire: wire)
    configuration.staticDirectory = config.web
    configuration.http.trustedProxies = config.trustedProxies
    configuration.http.messagesPerSecond = Double(config.messageRate)
    configuration.http.messageBurst = Double(config.messageRate) * 2
    configuration.http.maxConnections = config.maxConnections
    configuration.http.maxConnectionsPerAddress = config.connectionsPerAddress
    let group = EventLoopGroup(loopCount: 1, name: "gateway")
    let gateway: GatewayServer
    do {
        gateway = try GatewayServer(group: group, address: config.listen, configuration: configuration)
    } catch {
        fail("cannot start: \(error)")
    }
    log(.info, "gateway listening", [("node", config.identity.nodeID), ("http", "http://\(gateway.address)"), ("router", "\(config.router)")])
    waitForStopSignal()
    log(.info, "draining")
    gateway.close()
    log(.info, "stopped")
    exit(0)
}

func runDev(_ raw: [String]) -> Never {
    exitWithUsageIfAsked(raw, devUsage)
    let values = options(raw, known: ["data", "http", "wire", "web", "fsync", "load-operators", "load-capacity", "message-rate",
                                      "connections-per-address", "max-connections"])
    guard let maxConnections = Int(values["max-connections"] ?? "50000"), maxConnections >= 1 else {
        fail("--max-connections must be a positive whole number")
    }
    guard let perAddress = Int(values["connections-per-address"] ?? "256"), perAddress >= 0 else {
        fail("--connections-per-address must be a whole number (0 for no limit)")
    }
    guard let loadCapacity = Int(values["load-capacity"] ?? "10"), (1...100).contains(loadCapacity) else {
        fail("--load-capacity must be an integer in 1...100")
    }
    guard let messageRate = Double(values["message-rate"] ?? "20"), messageRate > 0 else { fail("--message-rate must be a positive number") }
    guard let loadOperators = Int(values["load-operators"] ?? "0"), (0...10_000).contains(loadOperators) else {
        fail("--load-operators must be an integer in 0...10000")
    }
    guard let httpAddress = SocketAddress(values["http"] ?? "127.0.0.1:8080") else { fail("--http must be IPv4 HOST:PORT") }
    guard let wireAddress = SocketAddress(values["wire"] ?? "127.0.0.1:7400") else { fail("--wire must be IPv4 HOST:PORT") }
    guard let policy = SyncPolicy(rawValue: values["fsync"] ?? "always") else { fail("--fsync must be always, interval or none") }
    let data = values["data"] ?? NSTemporaryDirectory() + "switchboard-dev-\(getpid())"
    let web = values["web"] ?? (FileManager.default.fileExists(atPath: "web") ? "web" : nil)

    // A dev cluster of one: the Wire secret and the site secret are made fresh each run.
    var rng = SystemRandomNumberGenerator()
    let clusterSecret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
    let siteSecret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
    func wire(_ id: String, _ role: NodeRole) -> WireConfiguration {
        WireConfiguration(handshake: HandshakeConfiguration(nodeID: id, role: role, clusterName: "dev", secret: clusterSecret))
    }

    let routerGroup = EventLoopGroup(loopCount: 1, name: "router")
    let gatewayGroup = EventLoopGroup(loopCount: 1, name: "gateway")
    let loop = routerGroup.loops[0]
    let node: UncheckedBox<RouterNode>
    let control: UncheckedBox<ControlNode>
    do {
        try DurableFile.makeDirectory(data)
        // The control plane as a group of one, like a router started alone.
        control = try loop.submitAndWait {
            UncheckedBox(try ControlNode.start(loop: loop, node: "router-1", membership: nil, directory: data + "/control", voters: ["router-1"],
                                               partitionCount: 64, replicas: 1, settings: .lan(), seed: UInt64.random(in: 0...UInt64.max)))
        }
        let table = waitForPlacement(control, loop: loop)
        node = try loop.submitAndWait {
            let (node, recovery) = try RouterNode.open(loop: loop, directory: data, sites: [DemoSite.configuration(loadOperators: loadOperators, loadCapacity: loadCapacity)],
                                                       partitionCount: 64, epochs: table.partitions.map(\.epoch), policy: policy)
            log(.info, "router log recovered", [("records", "\(recovery.records.count)"), ("truncated_bytes", "\(recovery.truncatedBytes)")])
            try DemoSite.seedCannedResponses(node)
            return UncheckedBox(node)
        }
    } catch {
        fail("cannot open the data directory \(data): \(error)")
    }
    let service: UncheckedBox<RouterService>
    let gateway: GatewayServer
    do {
        service = try RouterService.start(node: node, group: routerGroup, address: wireAddress, configuration: wire("router-1", .router))
        let routerAddress = try loop.submitAndWait {
            let address = service.value.address!
            let routing = ClusterRouting(node: node.value, service: service.value, links: nil, me: "router-1", advertise: "\(address)")
            follow(control.value, service: service.value, routing: routing)
            ClusterPresence.connect(node: node.value, service: service.value, membership: nil, nodeID: "router-1")
            return address
        }
        var configuration = GatewayConfiguration(siteSecrets: ["shop": siteSecret], router: routerAddress, wire: wire("gateway-1", .gateway))
        configuration.staticDirectory = web
        configuration.http.messagesPerSecond = messageRate
        configuration.http.messageBurst = max(40, messageRate * 2)
        configuration.http.maxConnectionsPerAddress = perAddress
        configuration.http.maxConnections = maxConnections
        configuration.devPasswords = Dictionary(uniqueKeysWithValues: DemoSite.operators.map { ("shop/\($0.id)", $0.password) }
            + (0..<loadOperators).map { ("shop/load-\($0)", "load-demo") })
        configuration.devAdmins = ["shop/\(DemoSite.admin)"]
        gateway = try GatewayServer(group: gatewayGroup, address: httpAddress, configuration: configuration)
        log(.info, "router listening", [("wire", "\(routerAddress)"), ("data", data), ("fsync", policy.rawValue)])
        if !gateway.waitUntilLinked(seconds: 10) { log(.warning, "the gateway is not linked to the router yet") }
    } catch {
        fail("cannot start: \(error)")
    }
    let base = "http://\(gateway.address)"
    log(.info, "gateway listening", [("http", base)])
    print("""

    Switchboard dev is running.
      WebSocket (widget and console):  ws://\(gateway.address)/ws
      Health, readiness, metrics:      \(base)/healthz  \(base)/readyz  \(base)/metrics
      Operator login (POST JSON):      \(base)/api/login  {"site":"shop","operator":"anna","password":"anna-demo"}
      Static files:                    \(web.map { "\(base)/ (from \($0))" } ?? "none (no ./web directory)")
      Demo shop (the widget):          \(base)/shop/
      Operator console:                \(base)/console.html   log in as \(DemoSite.operators.map { "\($0.id) / \($0.password)" }.joined(separator: ", "))
      Admin:                           \(base)/admin.html     log in as \(DemoSite.admin) / \(DemoSite.operators.first { $0.id == DemoSite.admin }!.password)
    Demo site "shop": departments sales, billing, support.
    Data directory: \(data)
    Stop with Ctrl-C or SIGTERM.

    """)
    fflush(nil)  // all streams: stdout may be a pipe to a supervisor

    // Drain on SIGTERM / SIGINT: stop accepting, let the log writer finish, exit 0.
    waitForStopSignal()
    log(.info, "draining")
    gateway.close()
    try? loop.submitAndWait {
        service.value.close()
        node.value.close()
    }
    log(.info, "stopped")
    exit(0)
}

// A parent may have started us with signals blocked (the mask is inherited): start from an
// empty mask, then block just the stop signals, before any thread exists.
var stopSet = stopSignals()
pthread_sigmask(SIG_SETMASK, &stopSet, nil)

// Every connection is a file: allow as many as the system lets this process have.
ProcessResources.raiseOpenFileLimit()

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "dev": runDev(Array(arguments.dropFirst()))
case "router": runRouter(Array(arguments.dropFirst()))
case "gateway": runGateway(Array(arguments.dropFirst()))
case "--help", "-h", "help", nil:
    print(usage)
    exit(arguments.isEmpty ? 2 : 0)
case let other?:
    fail("unknown command '\(other)'\n\(usage)")
}
