import Wire

/// This router's Wire links to the other routers, for `RoutingMessage`s (and operators'
/// events on their way to the operator's home, `send(_:toOwnerOf:)`): one outbound
/// connection to each (the other end's service takes it as a router link), over which this
/// router sends, in order, what its node hands to `send`. What comes back arrives at this
/// router's own service, on the links the others opened.
///
/// Who gets a message follows the committed table (`learn(owners:)`): the owner of its
/// target partition or home, or every other router. A message for a router whose link is
/// not up yet waits, up to `maxQueued` per router (the oldest go first past that, counted):
/// once a link comes up, the first thing sent on it is `resync` (the other router tells
/// everything again) and this router tells everything too (`onEstablished`).
///
/// Loop-confined: the node's loop.
public final class RouterLinks {
    public struct Metrics: Sendable, Equatable {
        public var sent = 0
        /// Messages dropped: queued too long for a router that did not come up, or whose owner is not placed.
        public var dropped = 0
        public var linksEstablished = 0
    }

    /// Messages held for one router while its link is down.
    public static let maxQueued = 10_000

    public let loop: EventLoop
    public let me: String
    public private(set) var metrics = Metrics()
    /// Called when a link to another router comes up: this router should tell it everything
    /// too (what it sent before it knew where that router was went nowhere).
    public var onEstablished: ((String) -> Void)?
    private let configuration: WireConfiguration
    private let partitionCount: Int
    /// Each partition's owner in the committed table (nil: not placed).
    private var owners: [String?]
    /// Where conversations and homes live (their partitions; ownership comes from `owners`).
    private let placement: Placement
    private var links: [String: Link] = [:]

    private final class Link: WirePeerDelegate {
        let client: WireClient
        var queue: [WireMessage] = []
        var peer: WirePeer? { client.peer }
        weak var owner: RouterLinks?
        let router: String

        init(router: String, client: WireClient) {
            (self.router, self.client) = (router, client)
        }

        func peerDidEstablish(_ peer: WirePeer) { owner?.established(self, peer) }
        func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {}
        func peerWritabilityChanged(_ peer: WirePeer) {}
        func peerDidClose(_ peer: WirePeer, reason: CloseReason) {}
    }

    public init(loop: EventLoop, me: String, partitionCount: Int, configuration: WireConfiguration) {
        (self.loop, self.me, self.partitionCount, self.configuration) = (loop, me, partitionCount, configuration)
        owners = Array(repeating: nil, count: partitionCount)
        placement = Placement(partitionCount: partitionCount)
    }

    /// The committed table's owners, by partition.
    public func learn(owners: [String?]) {
        loop.assertInLoop()
        precondition(owners.count == partitionCount, "one owner per partition")
        self.owners = owners
    }

    /// Where router `node` serves Wire (nil: it is gone). A new or changed address opens a
    /// new link; the old one, and what it held, is dropped.
    public func setAddress(of node: String, _ address: SocketAddress?) {
        loop.assertInLoop()
        guard node != me, links[node]?.client.address != address else { return }
        if let old = links.removeValue(forKey: node) {
            metrics.dropped += old.queue.count
            old.client.stop()
        }
        guard let address else { return }
        let link = Link(router: node, client: WireClient(loop: loop, address: address, configuration: configuration, delegate: nil))
        link.owner = self
        link.client.delegate = link
        links[node] = link
        link.client.start()
    }

    /// The routers this one has a link to (up or not).
    public var routers: [String] { links.keys.sorted() }

    /// Sends `message` to the router that owns its target, or to every other router.
    public func send(_ message: RoutingMessage, stamp: RoutingStamp) {
        loop.assertInLoop()
        let frame = WireMessage.routing(body: RoutingMessageCodec.encode(message, stamp: stamp))
        switch message.destination(placement) {
        case .everyRouter:
            for link in links.values { deliver(frame, on: link) }
        case .partition(let partition):
            deliver(frame, toOwnerOf: partition)
        case .home(let op):
            deliver(frame, toOwnerOf: placement.homePartition(of: op))
        }
    }

    /// Sends a Wire message (an operator's event) to the router owning `partition`, in
    /// order with the routing messages sent there.
    public func send(_ message: WireMessage, toOwnerOf partition: Int) {
        loop.assertInLoop()
        deliver(message, toOwnerOf: partition)
    }

    /// Stops every link.
    public func close() {
        loop.assertInLoop()
        for link in links.values { link.client.stop() }
        links.removeAll()
    }

    private func deliver(_ message: WireMessage, toOwnerOf partition: Int) {
        guard let owner = owners[partition], owner != me, let link = links[owner] else {
            // Not placed, or an owner whose address is not known yet: the resync both ways
            // when its link comes up tells the state again; a request lost here (a pull, a
            // reservation) is not recovered yet (docs/cluster.md).
            metrics.dropped += 1
            return
        }
        deliver(message, on: link)
    }

    private func deliver(_ message: WireMessage, on link: Link) {
        if let peer = link.peer, link.queue.isEmpty, (try? peer.send(message)) != nil {
            metrics.sent += 1
            return
        }
        link.queue.append(message)
        if link.queue.count > Self.maxQueued {
            link.queue.removeFirst(link.queue.count - Self.maxQueued)
            metrics.dropped += 1
        }
    }

    private func established(_ link: Link, _ peer: WirePeer) {
        metrics.linksEstablished += 1
        defer { onEstablished?(link.router) }
        let out = [WireMessage.routing(body: RoutingMessageCodec.encode(.resync, stamp: RoutingStamp(sourceEpoch: 0, targetEpoch: 0)))] + link.queue
        var sent = 0
        while sent < out.count, (try? peer.send(out[sent])) != nil { sent += 1 }
        metrics.sent += sent
        // A send fails only when the link is closing: the rest waits for the next one.
        link.queue = Array(out[sent...].dropFirst(sent == 0 ? 1 : 0))
    }
}

@available(*, unavailable)
extension RouterLinks: Sendable {}
