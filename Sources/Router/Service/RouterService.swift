import Foundation
import Wire

/// Serves gateways over Wire. Each `command` from a gateway is authorised
/// (`Authorization`), run on the `RouterNode` and answered with a `commandReply` once it is
/// durable; conversation events go to the gateways watching the conversation, operator
/// events to those holding the operator's consoles. The concerns live in their own files:
/// this one holds the links and the dispatch; `RouterService-commands` runs commands,
/// `-listings` answers the read-only queries, `-events` turns notices into events,
/// `-engagement` serves availability, invitations, files, e-mail and canned responses.
///
/// Loop-confined: it runs on the node's loop.
public final class RouterService: RouterNodeDelegate {
    /// The node the commands run on.
    public let node: RouterNode
    private var server: WireServer?
    private var links: [Subscriptions.Link: WirePeer] = [:]
    /// Who hears what.
    var subscriptions = Subscriptions()
    /// Counters for /metrics.
    public internal(set) var metrics = RouterMetrics()
    /// Who is on each site now (live only), by the visitors' partitions.
    var tracker: PartitionedVisitorTracker
    /// The availability each site's watchers were last told.
    var publishedAvailability: [SiteID: [ServerEvent.Department]] = [:]
    /// Where diagnostics go.
    let logger: Logger
    /// The cluster's routers as membership sees them, with each one's online operators of
    /// a site (set by the daemon, which runs membership; nil: the admin's list is empty).
    public var clusterMembers: ((SiteID) -> [ClusterMemberRow])?
    /// The control plane's state and partition table (set by the daemon).
    public var controlStatus: (() -> ControlStatus)?
    /// The committed partition table as gateways are told it (`publish(table:)`).
    public private(set) var table: PartitionTableNotice?
    /// Routing messages from other routers that could not be read.
    public private(set) var undecodableRouting = 0
    /// Carries an operator's event to the router owning the operator's home partition (set
    /// by the daemon in a cluster; nil: a router alone keeps every home).
    public var forwardToHome: ((WireMessage, Int) -> Void)?

    private init(node: RouterNode, logger: Logger) {
        self.node = node
        tracker = PartitionedVisitorTracker(placement: node.core.placement)
        self.logger = logger
    }

    /// Starts serving on `address`. Call off the loop; `group` must hold only the node's loop.
    public static func start(node: UncheckedBox<RouterNode>, group: EventLoopGroup, address: SocketAddress,
                             configuration: WireConfiguration, logger: Logger = Logger(label: "router")) throws -> UncheckedBox<RouterService> {
        precondition(group.loops.count == 1 && group.loops[0] === node.value.loop, "the service runs on the node's loop")
        let service = try node.value.loop.submitAndWait {
            let service = RouterService(node: node.value, logger: logger)
            node.value.delegate = service
            return UncheckedBox(service)
        }
        let server = try WireServer(group: group, address: address, configuration: configuration) { peer in
            GatewayLink(service: service.value, peer: peer)
        }
        try node.value.loop.submitAndWait {
            service.value.server = server
            service.value.scheduleAvailabilitySweep()
        }
        return service
    }

    /// The address gateways connect to.
    public var address: SocketAddress? { server?.address }

    /// Stops accepting gateways (open links stay until they close).
    public func close() {
        server?.close()
    }

    // MARK: links

    fileprivate func linkOpened(_ peer: WirePeer) {
        // Another router's link carries routing messages only; it hears no events.
        guard peer.identity?.role != .router else { return }
        links[ObjectIdentifier(peer)] = peer
        if let table { send(.partitionTable(table), on: ObjectIdentifier(peer)) }
    }

    /// The committed table changed: every gateway hears it (and each new one on connect).
    public func publish(table: PartitionTableNotice) {
        node.loop.assertInLoop()
        // Same version again: only the routers' addresses changed.
        if let current = self.table, table.version < current.version || table == current { return }
        self.table = table
        for link in links.keys { send(.partitionTable(table), on: link) }
    }

    fileprivate func linkClosed(_ peer: WirePeer) {
        let link = ObjectIdentifier(peer)
        links[link] = nil
        for closed in subscriptions.linkClosed(link) { sessionLeft(closed) }
    }

    fileprivate func receive(_ message: WireMessage, correlationID: UInt32, from peer: WirePeer) {
        let link = ObjectIdentifier(peer)
        switch message {
        case .command(let sessionID, let principal, let command):
            metrics.commands += 1
            if case .partition(let partition) = command.route(for: principal, partitionCount: node.core.partitionCount),
               !node.core.placement.owns(partition: partition) {
                return redirect(partition, correlationID: correlationID, on: link)
            }
            let session = Subscriptions.Session(link: link, id: sessionID)
            handle(command, principal: principal, session: session) { [weak self] reply in
                self?.answer(reply, correlationID: correlationID, on: link)
            }
        case .sessionClosed(let sessionID):
            sessionLeft(subscriptions.sessionClosed(.init(link: link, id: sessionID)))
        case .operatorUpdate(let op, _) where peer.identity?.role == .router:
            deliverForwarded(message, operator: op)
        case .routing(let body) where peer.identity?.role == .router:
            do {
                let (routed, stamp) = try RoutingMessageCodec.decode(body)
                node.receive(routed, stamp: stamp)
            } catch {
                undecodableRouting += 1
                logger.warning("an unreadable routing message from another router was dropped",
                               ["router": peer.identity?.nodeID ?? "?", "error": error.message])
            }
        default:
            // Nothing else is meaningful from a gateway.
            logger.warning("unexpected message from a gateway", ["type": "\(message.type)"])
        }
    }

    /// A command for a partition another router owns (the gateway's table is behind):
    /// where the owner is, by this router's table, so the gateway can send it there. With
    /// no owner known, a retryable refusal.
    private func redirect(_ partition: Int, correlationID: UInt32, on link: Subscriptions.Link) {
        metrics.redirects += 1
        guard let owner = table?.owner(of: partition), !owner.address.isEmpty else {
            return answer(.event(.error(code: "unavailable", message: "This part of the service is moving to another server; try again in a moment.",
                                        requestID: nil)), correlationID: correlationID, on: link)
        }
        send(.redirect(partition: UInt32(partition), nodeID: owner.node, address: owner.address), correlationID: correlationID, on: link)
    }

    private func sessionLeft(_ closed: Subscriptions.Closed) {
        if let op = closed.op { disconnect(op) }
        if let (site, visitor) = closed.visitor {
            tracker.sessionClosed(Self.globalSession(closed.session), site: site, visitor: visitor, now: node.wallClock())
        }
    }

    private func answer(_ reply: RouterReply, correlationID: UInt32, on link: Subscriptions.Link) {
        if let code = reply.errorCode { metrics.errors[code, default: 0] += 1 }
        send(.commandReply(reply), correlationID: correlationID, on: link)
    }

    /// Sends to a gateway. A send fails only when the link is closing; what it carried is
    /// recovered by the client's resume, so it is counted and logged, not fatal.
    func send(_ message: WireMessage, correlationID: UInt32 = 0, on link: Subscriptions.Link) {
        guard let peer = links[link] else { return }
        do {
            try peer.send(message, correlationID: correlationID)
        } catch {
            metrics.failedSends += 1
            logger.debug("send to a gateway failed", ["error": "\(error)"])
        }
    }

    /// A session id unique across gateways (each gateway numbers its own sessions).
    static func globalSession(_ session: Subscriptions.Session) -> UInt64 {
        UInt64(truncatingIfNeeded: session.link.hashValue) &* 0x9E37_79B9_7F4A_7C15 ^ session.id
    }

    /// An operator id as clients know it (without the `<site>/` the router adds).
    static func localID(_ op: OperatorID) -> String {
        op.raw.split(separator: "/", maxSplits: 1).last.map(String.init) ?? op.raw
    }
}

/// One gateway's Wire link into the service.
private final class GatewayLink: WirePeerDelegate {
    private let service: RouterService
    init(service: RouterService, peer: WirePeer) {
        self.service = service
    }
    func peerDidEstablish(_ peer: WirePeer) { service.linkOpened(peer) }
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        guard let message = try? WireMessage.decode(type: header.type, payload: payload) else {
            service.logger.warning("undecodable frame from a gateway; closing the link", ["type": "\(header.type)"])
            peer.close()
            return
        }
        service.receive(message, correlationID: header.correlationID, from: peer)
    }
    func peerWritabilityChanged(_ peer: WirePeer) {}
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) { service.linkClosed(peer) }
}

@available(*, unavailable)
extension RouterService: Sendable {}
