import Presence
import Router
import Wire

/// Ties a router to the committed partition table: the node serves the partitions the
/// table gives it, under their epochs (`RouterNode.learnTable`); routing messages go to
/// their owners over `RouterLinks`; gateways are pushed every new table with the routers'
/// Wire addresses. Routers learn each other's Wire address by presence gossip, one entry
/// per router under `addressKey` (`ClusterPresence`). Runs on the router's loop.
final class ClusterRouting {
    /// The gossip key of a router's Wire address (operator keys are `<site>/<id>`, never this).
    static let addressKey = "@wire"

    let node: RouterNode
    let service: RouterService
    /// Nil for a router alone (nobody to send to).
    let links: RouterLinks?
    let me: String
    /// Each router's Wire address, and the member (generation) that gossiped it.
    private var addresses: [String: (address: String, origin: MemberID?)]
    private var table: PartitionTable?

    init(node: RouterNode, service: RouterService, links: RouterLinks?, me: String, advertise: String) {
        (self.node, self.service, self.links, self.me) = (node, service, links, me)
        addresses = [me: (advertise, nil)]
        // `node.send` was given at `RouterNode.open` (recovery sends before this exists).
        service.forwardToHome = links.map { links in { message, partition in links.send(message, toOwnerOf: partition) } }
        // A new link: this router tells its state again, as if the other had asked.
        links?.onEstablished = { [unowned node] _ in node.receive(.resync, stamp: nil) }
    }

    /// The committed table changed (or is first known).
    func tableChanged(_ table: PartitionTable) {
        node.loop.assertInLoop()
        self.table = table
        let owned = Set(table.owned(by: me))
        let (gained, lost) = node.learnTable(epochs: table.partitions.map(\.epoch), owned: owned)
        if !gained.isEmpty || !lost.isEmpty {
            log(.info, "partitions changed hands", [("gained", gained.map(String.init).joined(separator: ",")),
                                                     ("lost", lost.map(String.init).joined(separator: ",")), ("version", "\(table.version)")])
        }
        links?.learn(owners: table.partitions.map(\.owner))
        publish()
    }

    /// Router `origin` serves Wire at `address` (gossiped).
    func learned(address: String, from origin: MemberID) {
        node.loop.assertInLoop()
        guard origin.node != me, addresses[origin.node]?.address != address || addresses[origin.node]?.origin != origin else { return }
        addresses[origin.node] = (address, origin)
        links?.setAddress(of: origin.node, SocketAddress(address))
        publish()
    }

    /// Member `origin` is gone: its address goes, unless a later generation gave one since.
    func forgot(addressOf origin: MemberID) {
        node.loop.assertInLoop()
        guard addresses[origin.node]?.origin == origin else { return }
        addresses[origin.node] = nil
        links?.setAddress(of: origin.node, nil)
        publish()
    }

    /// Tells the gateways the table and where each owner is.
    private func publish() {
        guard let table else { return }
        let routers = Set(table.partitions.compactMap(\.owner)).sorted()
        let index = Dictionary(uniqueKeysWithValues: routers.enumerated().map { ($1, $0) })
        service.publish(table: PartitionTableNotice(
            version: table.version,
            routers: routers.map { PartitionTableNotice.Router(node: $0, address: addresses[$0]?.address ?? "") },
            partitions: table.partitions.map { PartitionTableNotice.Entry(owner: $0.owner.flatMap { index[$0] }, epoch: $0.epoch) }))
    }
}
