import Gateway
import Router
import Wire

/// A router's own HTTP endpoints: /healthz, /readyz and Prometheus-format /metrics.
final class RouterEndpoints: HTTPHandler {
    private let node: RouterNode

    init(node: RouterNode) {
        self.node = node
    }

    func handle(_ request: HTTPRequest, client: String, connection: HTTPConnection) -> HTTPAction {
        switch (request.method, String(request.path)) {
        case ("GET", "/healthz"), ("GET", "/readyz"):
            return .respond(.text(200, "ok"))
        case ("GET", "/metrics"):
            return .respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(metrics().utf8)))
        default:
            return .respond(.text(404, "not found"))
        }
    }

    /// Gauges read from the routing state at the time of the scrape.
    private func metrics() -> String {
        let core = node.core
        var waiting: [String: Int] = [:]
        var open = 0
        for partition in core.partitions {
            for conversation in partition.conversations.values where conversation.state.isOpen { open += 1 }
            for queue in partition.queue.queues {
                waiting["\(queue.site)/\(queue.skill)", default: 0] += partition.queue.waiting(site: queue.site, skill: queue.skill).count
            }
        }
        let online = core.homes.values.filter { $0.status == .online && $0.connections > 0 }.count
        var text = """
        # TYPE switchboard_router_open_conversations gauge
        switchboard_router_open_conversations \(open)
        # TYPE switchboard_router_operators_online gauge
        switchboard_router_operators_online \(online)
        # TYPE switchboard_router_partitions gauge
        switchboard_router_partitions \(core.partitionCount)
        # TYPE switchboard_router_queue_length gauge

        """
        for (queue, count) in waiting.sorted(by: { $0.key < $1.key }) {
            let parts = queue.split(separator: "/")
            text += "switchboard_router_queue_length{site=\"\(parts[0])\",department=\"\(parts[1])\"} \(count)\n"
        }
        return text
    }
}
