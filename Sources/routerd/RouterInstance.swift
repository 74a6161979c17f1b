import Foundation
import Gateway
import Presence
import Router
import Wire

/// One router of `routerd router`, on an event loop of its own: membership, its member of
/// the control plane, then (once the table is placed) its node, service and endpoints. A
/// process may host several (`instances` in the configuration), one per loop, so one
/// machine uses all its cores; they start in two phases so that voters hosted together can
/// elect a leader before any of them waits for the table.
final class RouterInstance {
    let config: RouterConfig
    let group: EventLoopGroup
    var loop: EventLoop { group.loops[0] }
    private(set) var membership: UncheckedBox<MembershipNode>?
    private(set) var control: UncheckedBox<ControlNode>!
    private(set) var node: UncheckedBox<RouterNode>!
    private(set) var service: UncheckedBox<RouterService>!
    private var links: UncheckedBox<RouterLinks>?
    private var health: TCPServer?

    init(_ config: RouterConfig) {
        self.config = config
        group = EventLoopGroup(loopCount: 1, name: config.identity.nodeID)
    }

    /// Phase one: membership and the control plane.
    func startControlPlane() throws {
        try DurableFile.makeDirectory(config.data)
        membership = try config.gossip.map { address in try startMembership(config, bind: address, loop: loop) }
        control = try startControl(config, membership: membership, loop: loop)
    }

    /// Phase two: waits for the table, then opens the node and serves.
    func serve(repair: Bool) throws {
        let config = self.config, loop = self.loop, wire = config.identity.wire(role: .router)
        // The table says what this router serves: nothing is opened before it is known.
        let table = waitForPlacement(control, loop: loop)
        let me = config.identity.nodeID
        let links = membership == nil ? nil : try loop.submitAndWait {
            UncheckedBox(RouterLinks(loop: loop, me: me, partitionCount: config.partitions, configuration: wire))
        }
        self.links = links
        node = try loop.submitAndWait {
            let (node, recovery) = try RouterNode.open(loop: loop, directory: config.data, sites: config.sites, partitionCount: config.partitions,
                                                       owned: Set(table.owned(by: me)), epochs: table.partitions.map(\.epoch),
                                                       policy: config.fsync, repair: repair,
                                                       send: links.map { links in { message, stamp in links.value.send(message, stamp: stamp) } })
            log(.info, "router log recovered", [("node", me), ("records", "\(recovery.records.count)"), ("truncated_bytes", "\(recovery.truncatedBytes)"),
                                                 ("partitions_owned", "\(table.owned(by: me).count)")])
            if let damage = recovery.repaired { log(.warning, "router log repaired: the damaged part was cut off", [("damage", "\(damage)")]) }
            // A production data directory holds only what its site's people made: the demo
            // shop's canned responses are for `routerd dev` alone.
            return UncheckedBox(node)
        }
        let node = self.node!, control = self.control!, membership = self.membership
        let service = try RouterService.start(node: node, group: group, address: config.listen, configuration: wire, logger: Logger(label: "router"))
        self.service = service
        let endpoints = try loop.submitAndWait {
            // Port 0 (tests): the port the system chose is what the others must be told.
            let advertise = config.advertise.port == 0 ? service.value.address.map { "\($0)" } ?? "\(config.advertise)" : "\(config.advertise)"
            let routing = ClusterRouting(node: node.value, service: service.value, links: links?.value, me: me, advertise: advertise)
            follow(control.value, service: service.value, routing: routing)
            ClusterPresence.connect(node: node.value, service: service.value, membership: membership?.value, nodeID: me, routing: routing,
                                    advertise: advertise)
            return UncheckedBox(RouterEndpoints(node: node.value, service: service.value, membership: membership?.value, control: control.value,
                                                links: links?.value))
        }
        let budget = SharedConnectionBudget(HTTPServerOptions())
        let health = try TCPServer(group: group, address: config.http) { _ in
            HTTPConnection(handler: endpoints.value, options: HTTPServerOptions(), budget: budget)
        }
        self.health = health
        let address = try? loop.submitAndWait { service.value.address }
        log(.info, "router listening", [("node", me), ("wire", "\(address.flatMap { $0 }.map { "\($0)" } ?? "?")"),
                                         ("http", "\(health.address)"), ("data", config.data), ("fsync", config.fsync.rawValue)])
    }

    /// Leaves the cluster at once (the others mark it left instead of suspecting it), then
    /// stops serving and lets the log writer finish.
    func stop() {
        let (control, membership, service, node, links) = (self.control, self.membership, self.service, self.node, self.links)
        if let control { try? loop.submitAndWait { control.value.stop() } }
        if let membership { try? loop.submitAndWait { membership.value.leave() } }
        health?.close()
        try? loop.submitAndWait {
            links?.value.close()
            service?.value.close()
            node?.value.close()
        }
    }
}

@available(*, unavailable)
extension RouterInstance: Sendable {}

/// The routers a configuration describes: itself, or, with `instances`, one per entry, each
/// the file's settings with the entry's own (`nodeId`, `listen`, `advertise`, `http`,
/// `data`, `gossip`) over them.
func routerConfigs(_ merged: [String: Any]) throws -> [RouterConfig] {
    guard let raw = merged["instances"] else { return [try RouterConfig(merged)] }
    guard let instances = raw as? [[String: Any]], !instances.isEmpty else {
        throw ConfigError(field: "instances", problem: "must be a list of objects, one per router of this process")
    }
    var base = merged
    base["instances"] = nil
    let own: Set<String> = ["nodeId", "listen", "advertise", "http", "data", "gossip"]
    return try instances.enumerated().map { index, instance in
        if let key = instance.keys.sorted().first(where: { !own.contains($0) }) {
            throw ConfigError(field: "instances[\(index)].\(key)", problem: "is not a setting of one router (those are \(own.sorted().joined(separator: ", ")))")
        }
        return try RouterConfig(base.merging(instance) { _, mine in mine })
    }
}
