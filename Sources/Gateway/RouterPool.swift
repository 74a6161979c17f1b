import Wire

/// The gateway's Wire links to the routers, and which one serves a command. The configured
/// router (the seed) is linked first; it pushes the committed partition table, and from
/// then on the gateway keeps a link to every router the table names and sends each command
/// to the owner of its partition (`CommandRoute`). A router that is not the owner (the
/// table here is behind) answers with a redirect, which is believed until the next table.
///
/// Loop-confined: the gateway's loop.
final class RouterPool {
    let loop: EventLoop
    let seedAddress: SocketAddress
    private let configuration: WireConfiguration
    /// Every link, by the address it connects to (the seed's among them).
    private(set) var clients: [String: WireClient] = [:]
    private(set) var table: PartitionTableNotice?
    /// Owners learned from redirects since the last table, by partition.
    private var redirected: [Int: PartitionTableNotice.Router] = [:]
    private weak var delegate: (any WirePeerDelegate)?
    /// Addresses whose link was up at least once, and whether any link was ever up.
    private var everEstablished: Set<String> = []

    init(loop: EventLoop, seed: SocketAddress, configuration: WireConfiguration, delegate: any WirePeerDelegate) {
        (self.loop, self.seedAddress, self.configuration, self.delegate) = (loop, seed, configuration, delegate)
        link(to: "\(seed)")
    }

    /// The partition count, once a table is known.
    var partitionCount: Int? { table.map(\.partitions.count) }

    /// Whether any router is linked.
    var isLinked: Bool { clients.values.contains { $0.peer != nil } }

    /// Every router link that is up.
    var peers: [WirePeer] { clients.values.compactMap(\.peer) }

    /// A newer committed table: links open to the routers it names. Returns false for an
    /// older one (ignored).
    @discardableResult
    func learn(_ notice: PartitionTableNotice) -> Bool {
        if let table, notice.version < table.version { return false }
        table = notice
        redirected = [:]
        for router in notice.routers where !router.address.isEmpty { link(to: router.address) }
        return true
    }

    /// A router said `partition` is owned by `node` at `address`.
    func learn(redirect partition: Int, node: String, address: String) {
        redirected[partition] = PartitionTableNotice.Router(node: node, address: address)
        link(to: address)
    }

    /// The link that serves `route` now (nil: its router is not reachable), and the router's name.
    func peer(for route: CommandRoute) -> (peer: WirePeer?, router: String) {
        switch route {
        case .partition(let partition):
            guard let owner = redirected[partition] ?? table?.owner(of: partition), !owner.address.isEmpty else { return anyPeer() }
            return (clients[owner.address]?.peer, owner.node)
        case .everyRouter, .anyRouter:
            return anyPeer()
        }
    }

    /// Every router that owns a partition, with its link if up (the listings ask them all).
    func owners() -> [(router: String, peer: WirePeer?)] {
        guard let table, !table.routers.isEmpty else {
            let seed = anyPeer()
            return [(seed.router, seed.peer)]
        }
        return table.routers.map { router in (router.node, router.address.isEmpty ? nil : clients[router.address]?.peer) }
    }

    /// Records that `peer` came up; true when it is the first link of all, or a link that
    /// was up before (its router may have restarted): then the routers may hold sessions
    /// this gateway has that they no longer know, or never knew.
    func established(_ peer: WirePeer) -> Bool {
        guard let address = clients.first(where: { $0.value.peer === peer })?.key else { return false }
        let first = everEstablished.isEmpty
        return !everEstablished.insert(address).inserted || first
    }

    func stop() {
        for client in clients.values { client.stop() }
        clients.removeAll()
    }

    private func anyPeer() -> (peer: WirePeer?, router: String) {
        let seed = clients["\(seedAddress)"]?.peer
        let peer = seed ?? clients.sorted { $0.key < $1.key }.lazy.compactMap(\.value.peer).first
        return (peer, peer?.identity?.nodeID ?? "the router")
    }

    private func link(to address: String) {
        guard clients[address] == nil, let socket = SocketAddress(address) else { return }
        let client = WireClient(loop: loop, address: socket, configuration: configuration, delegate: delegate)
        clients[address] = client
        client.start()
    }
}

@available(*, unavailable)
extension RouterPool: Sendable {}
