import Foundation
import Presence
import Router
import Wire

/// A configuration mistake, naming the field ("sites[0].operators[1].maxChats").
struct ConfigError: Error, CustomStringConvertible {
    let field: String
    let problem: String
    var description: String { "configuration: \(field) \(problem)" }
}

/// Reads a JSON configuration file into a dictionary, with errors that name the file. The
/// project's strict parser: a setting given twice is an error, not a silent choice.
func readConfigFile(_ path: String) throws -> [String: Any] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError(field: path, problem: "cannot be read") }
    guard let object = JSONParser.parse([UInt8](data)) as? [String: Any] else {
        throw ConfigError(field: path, problem: "is not a JSON object (or names a setting twice)")
    }
    return object
}

/// Strict access to one JSON object of the configuration: unknown keys and wrong types are
/// errors naming the full path of the field.
struct ConfigObject {
    let path: String
    let values: [String: Any]

    init(_ values: [String: Any], path: String, allowed: Set<String>) throws {
        self.path = path
        self.values = values
        if let unknown = values.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ConfigError(field: name(unknown, in: path), problem: "is not a known setting")
        }
    }

    func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let raw = values[key] else {
            if let fallback { return fallback }
            throw ConfigError(field: name(key, in: path), problem: "is required")
        }
        guard let value = raw as? String, !value.isEmpty else { throw ConfigError(field: name(key, in: path), problem: "must be a non-empty string") }
        return value
    }

    func optionalString(_ key: String) throws -> String? {
        values[key] == nil ? nil : try string(key)
    }

    func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = values[key] else { return fallback }
        let exact: Int? = switch raw {
        case let int as Int: int
        case let double as Double: Int(exactly: double)
        default: nil  // booleans and strings are not integers
        }
        guard let value = exact, range.contains(value) else {
            throw ConfigError(field: name(key, in: path), problem: "must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func address(_ key: String, default fallback: String) throws -> SocketAddress {
        let text = try string(key, default: fallback)
        guard let address = SocketAddress(text) else { throw ConfigError(field: name(key, in: path), problem: "must be an IPv4 HOST:PORT, not \(text)") }
        return address
    }

    func objects(_ key: String) throws -> [[String: Any]] {
        guard let raw = values[key] else { throw ConfigError(field: name(key, in: path), problem: "is required") }
        guard let list = raw as? [[String: Any]] else { throw ConfigError(field: name(key, in: path), problem: "must be a list of objects") }
        return list
    }

    func strings(_ key: String) throws -> [String] {
        guard let raw = values[key] else { return [] }
        guard let list = raw as? [String] else { throw ConfigError(field: name(key, in: path), problem: "must be a list of strings") }
        return list
    }
}

private func name(_ key: String, in path: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

/// What every node's file says about the node itself: its id, its cluster, the secret of
/// the Wire handshake.
struct NodeIdentity {
    var nodeID: String
    var cluster: String
    var clusterSecret: [UInt8]

    static let keys: Set<String> = ["nodeId", "cluster", "clusterSecret"]

    init(_ root: ConfigObject) throws {
        nodeID = try root.string("nodeId")
        cluster = try root.string("cluster")
        clusterSecret = Array(try root.string("clusterSecret").utf8)
        guard clusterSecret.count >= 16 else { throw ConfigError(field: "clusterSecret", problem: "must have at least 16 bytes") }
    }

    /// The Wire settings of this node in `role`.
    func wire(role: NodeRole) -> WireConfiguration {
        WireConfiguration(handshake: HandshakeConfiguration(nodeID: nodeID, role: role, clusterName: cluster, secret: clusterSecret))
    }
}

/// The router's configuration file (docs/operations.md).
struct RouterConfig {
    var identity: NodeIdentity
    var listen: SocketAddress
    /// The Wire address other routers and gateways reach this one at (default `listen`).
    var advertise: SocketAddress
    var http: SocketAddress
    var data: String
    var partitions: Int
    var fsync: SyncPolicy
    var sites: [SiteConfiguration]
    /// Membership: the UDP address probes and gossip use (nil: this router takes no part),
    /// the other routers' gossip addresses to join through, and the preset.
    var gossip: SocketAddress?
    var seeds: [String]
    var gossipPreset: SWIMSettings
    /// The control plane's voting routers (node ids: 1, 3 or 5; default this router alone)
    /// and the copies of each partition its table keeps (1 until routers replicate).
    var voters: [String]
    /// The routers the first placement of partitions waits for (up to 10 s; default the voters).
    var initialRouters: [String]
    var replicas: Int
    /// Applied control-plane entries after which a router snapshots the table and compacts its log.
    var controlSnapshotEntries: Int

    static let keys = NodeIdentity.keys.union(["listen", "advertise", "http", "data", "partitions", "fsync", "sites", "gossip", "seeds", "gossipPreset",
                                               "voters", "initialRouters", "replicas", "controlSnapshotEntries"])

    init(_ object: [String: Any]) throws {
        let root = try ConfigObject(object, path: "", allowed: Self.keys)
        identity = try NodeIdentity(root)
        listen = try root.address("listen", default: "127.0.0.1:7400")
        advertise = root.values["advertise"] == nil ? listen : try root.address("advertise", default: "")
        if advertise.host == "0.0.0.0" {
            throw ConfigError(field: root.values["advertise"] == nil ? "listen" : "advertise",
                              problem: "is where other routers and gateways reach this router: set advertise to a reachable address, not 0.0.0.0")
        }
        http = try root.address("http", default: "127.0.0.1:9400")
        data = try root.string("data")
        partitions = try root.int("partitions", default: 64, range: 1...65_536)
        let policy = try root.string("fsync", default: "always")
        guard let fsync = SyncPolicy(rawValue: policy) else { throw ConfigError(field: "fsync", problem: "must be always, interval or none") }
        self.fsync = fsync
        sites = try root.objects("sites").enumerated().map { index, site in try Self.site(site, path: "sites[\(index)]") }
        gossip = root.values["gossip"] == nil ? nil : try root.address("gossip", default: "")
        if gossip?.host == "0.0.0.0" {
            // The address is also what the others are told to reach this router at.
            throw ConfigError(field: "gossip", problem: "must be the address other routers reach this one at, not 0.0.0.0")
        }
        seeds = try Self.list("seeds", root)
        voters = try Self.list("voters", root)
        if voters.isEmpty { voters = [identity.nodeID] }
        guard [1, 3, 5].contains(voters.count), Set(voters).count == voters.count else {
            throw ConfigError(field: "voters", problem: "must name 1, 3 or 5 distinct routers (node ids), not \(voters.count)")
        }
        guard gossip != nil || voters == [identity.nodeID] else {
            throw ConfigError(field: "voters", problem: "needs gossip: a router without cluster membership can only vote alone")
        }
        initialRouters = try Self.list("initialRouters", root)
        if initialRouters.isEmpty { initialRouters = voters }
        replicas = try root.int("replicas", default: 1, range: 1...5)
        controlSnapshotEntries = try root.int("controlSnapshotEntries", default: Int(ControlNode.defaultCompactionThreshold), range: 1...1_000_000)
        if let bad = seeds.first(where: { SocketAddress($0) == nil }) {
            throw ConfigError(field: "seeds", problem: "must be IPv4 HOST:PORT addresses, not \(bad)")
        }
        switch try root.string("gossipPreset", default: "lan") {
        case "lan": gossipPreset = .lan
        case "fast": gossipPreset = .fast
        case let other: throw ConfigError(field: "gossipPreset", problem: "must be lan or fast, not \(other)")
        }
        guard !sites.isEmpty else { throw ConfigError(field: "sites", problem: "must name at least one site") }
        let ids = sites.map(\.id)
        if let duplicate = ids.first(where: { id in ids.filter { $0 == id }.count > 1 }) {
            throw ConfigError(field: "sites", problem: "names site \(duplicate) twice")
        }
    }

    /// A list in the file; "a,b" from a flag or the environment.
    private static func list(_ key: String, _ root: ConfigObject) throws -> [String] {
        if let text = root.values[key] as? String {
            return text.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
        }
        return try root.strings(key)
    }

    private static func site(_ object: [String: Any], path: String) throws -> SiteConfiguration {
        let site = try ConfigObject(object, path: path, allowed: ["id", "departments", "operators", "routing"])
        let id = try site.string("id")
        guard !id.contains("/") else { throw ConfigError(field: "\(path).id", problem: "may not contain '/'") }
        let departments = Set(try site.strings("departments").map { Skill($0) })
        guard !departments.isEmpty else { throw ConfigError(field: "\(path).departments", problem: "must name at least one department") }
        var seen: Set<String> = []
        let operators = try site.objects("operators").enumerated().map { index, raw -> OperatorProfile in
            let opPath = "\(path).operators[\(index)]"
            let op = try ConfigObject(raw, path: opPath, allowed: ["id", "name", "skills", "maxChats"])
            let opID = try op.string("id")
            guard seen.insert(opID).inserted else { throw ConfigError(field: "\(opPath).id", problem: "repeats operator \(opID)") }
            guard let skills = op.values["skills"] as? [String: Int], !skills.isEmpty else {
                throw ConfigError(field: "\(opPath).skills", problem: "must map departments to levels 1-5")
            }
            for (skill, level) in skills {
                guard departments.contains(Skill(skill)) else { throw ConfigError(field: "\(opPath).skills.\(skill)", problem: "is not a department of the site") }
                guard (1...5).contains(level) else { throw ConfigError(field: "\(opPath).skills.\(skill)", problem: "must be a level 1-5") }
            }
            return OperatorProfile(id: OperatorID("\(id)/\(opID)"), site: SiteID(id), displayName: try op.string("name", default: opID),
                                   skills: Dictionary(uniqueKeysWithValues: skills.map { (Skill($0.key), $0.value) }),
                                   maxChats: try op.int("maxChats", default: 3, range: 1...100))
        }
        var settings = RoutingSettings()
        if let raw = object["routing"] as? [String: Any] {
            let routing = try ConfigObject(raw, path: "\(path).routing", allowed: [
                "policy", "offerTimeoutSeconds", "autoAccept", "maxConsecutiveMisses", "disconnectGraceSeconds", "presenceGraceSeconds",
                "agingIntervalSeconds", "waitLimitSeconds",
            ])
            let policy = try routing.string("policy", default: settings.policy.rawValue)
            guard let parsed = AssignmentPolicy(rawValue: policy) else {
                throw ConfigError(field: "\(path).routing.policy", problem: "must be least-loaded, round-robin or most-proficient")
            }
            settings.policy = parsed
            settings.offerTimeout = Nanos.seconds(UInt64(try routing.int("offerTimeoutSeconds", default: 30, range: 1...3600)))
            settings.autoAccept = (routing.values["autoAccept"] as? Bool) ?? false
            settings.maxConsecutiveMisses = try routing.int("maxConsecutiveMisses", default: 2, range: 1...100)
            settings.disconnectGrace = Nanos.seconds(UInt64(try routing.int("disconnectGraceSeconds", default: 30, range: 0...3600)))
            settings.presenceGrace = Nanos.seconds(UInt64(try routing.int("presenceGraceSeconds", default: 5, range: 0...300)))
            settings.agingInterval = Nanos.seconds(UInt64(try routing.int("agingIntervalSeconds", default: 60, range: 1...86_400)))
            settings.waitLimit = Nanos.seconds(UInt64(try routing.int("waitLimitSeconds", default: 600, range: 10...86_400)))
        } else if object["routing"] != nil {
            throw ConfigError(field: "\(path).routing", problem: "must be an object")
        }
        return SiteConfiguration(id: SiteID(id), departments: departments, operators: operators, settings: settings)
    }
}

/// The gateway's configuration file (docs/operations.md).
struct GatewayConfig {
    var identity: NodeIdentity
    var listen: SocketAddress
    var router: SocketAddress
    var siteSecrets: [String: [UInt8]]
    var trustedProxies: Set<String>
    var web: String?
    /// Chat messages a browser may send per second (bursts of twice that), default 20.
    var messageRate: Int
    /// Most connections the gateway holds (default 50,000) and from one client address
    /// (default 256; 0 for no limit; trusted proxies are not limited).
    var maxConnections: Int
    var connectionsPerAddress: Int

    static let keys = NodeIdentity.keys.union(["listen", "router", "sites", "trustedProxies", "web", "messageRate", "maxConnections",
                                               "connectionsPerAddress"])

    init(_ object: [String: Any]) throws {
        let root = try ConfigObject(object, path: "", allowed: Self.keys)
        identity = try NodeIdentity(root)
        listen = try root.address("listen", default: "127.0.0.1:8080")
        router = try root.address("router", default: "127.0.0.1:7400")
        var secrets: [String: [UInt8]] = [:]
        for (index, raw) in try root.objects("sites").enumerated() {
            let site = try ConfigObject(raw, path: "sites[\(index)]", allowed: ["id", "secret"])
            let secret = Array(try site.string("secret").utf8)
            guard secret.count >= 16 else { throw ConfigError(field: "sites[\(index)].secret", problem: "must have at least 16 bytes") }
            secrets[try site.string("id")] = secret
        }
        siteSecrets = secrets
        trustedProxies = Set(try root.strings("trustedProxies"))
        web = try root.optionalString("web")
        messageRate = try root.int("messageRate", default: 20, range: 1...1_000_000)
        maxConnections = try root.int("maxConnections", default: 50_000, range: 1...1_000_000)
        connectionsPerAddress = try root.int("connectionsPerAddress", default: 256, range: 0...1_000_000)
    }
}

/// Applies `--name value` flags and `SWITCHBOARD_<NAME>` environment variables over a file's
/// settings (flags win over the environment, which wins over the file).
/// `numeric` names the settings whose values are numbers.
func overriding(_ object: [String: Any], flags: [String: String], keys: Set<String>, numeric: Set<String> = []) -> [String: Any] {
    var result = object
    func value(_ key: String, _ text: String) -> Any { numeric.contains(key) ? (Int(text).map { $0 as Any } ?? text) : text }
    for key in keys {
        let envName = "SWITCHBOARD_" + key.replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression).uppercased()
        if let text = ProcessInfo.processInfo.environment[envName] { result[key] = value(key, text) }
        if let text = flags[key] { result[key] = value(key, text) }
    }
    return result
}
