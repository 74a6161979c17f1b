import Gateway
import Presence
import Router
import Wire

/// A router's own HTTP endpoints: /healthz, /readyz and Prometheus-format /metrics.
final class RouterEndpoints: HTTPHandler {
    private let node: RouterNode
    private let service: RouterService
    private let membership: MembershipNode?
    private let control: ControlNode?
    private let links: RouterLinks?

    init(node: RouterNode, service: RouterService, membership: MembershipNode? = nil, control: ControlNode? = nil, links: RouterLinks? = nil) {
        self.node = node
        self.service = service
        self.membership = membership
        self.control = control
        self.links = links
    }

    /// The control plane's Raft state and table (docs/operations.md names each).
    static func controlMetrics(_ control: ControlNode) -> String {
        let raft = control.raft
        var text = ""
        let gauges: [(String, UInt64)] = [("term", raft.term), ("commit_index", raft.commitIndex), ("applied_index", raft.lastApplied),
                                          ("table_version", control.table.version), ("leader", raft.role == .leader ? 1 : 0)]
        for (name, value) in gauges { text += "# TYPE switchboard_control_\(name) gauge\nswitchboard_control_\(name) \(value)\n" }
        let counters = [("leader_changes", control.metrics.leaderChanges), ("changes_applied", control.metrics.changesApplied),
                         ("changes_refused", control.metrics.changesRefused), ("elections", raft.counters.elections),
                         ("foreign_group_messages", control.metrics.foreignGroup), ("undecodable_messages", control.metrics.undecodable),
                         ("snapshots_installed", raft.counters.snapshotsInstalled), ("snapshots_sent", raft.counters.snapshotsSent)]
        for (name, value) in counters { text += "# TYPE switchboard_control_\(name)_total counter\nswitchboard_control_\(name)_total \(value)\n" }
        text += "# TYPE switchboard_control_storage_failed gauge\nswitchboard_control_storage_failed \(control.failure == nil ? 0 : 1)\n"
        return text
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

    /// The cluster membership as this router sees it (docs/operations.md names each).
    static func membershipMetrics(_ membership: MembershipNode) -> String {
        let instance = membership.instance
        var byStatus: [MemberStatus: Int] = [:]
        for state in instance.members.values { byStatus[state.status, default: 0] += 1 }
        let c = instance.counters, m = membership.metrics
        var text = "# TYPE switchboard_cluster_members gauge\n"
        for status in MemberStatus.allCases { text += "switchboard_cluster_members{state=\"\(status)\"} \(byStatus[status] ?? 0)\n" }
        text += "# TYPE switchboard_cluster_generation gauge\nswitchboard_cluster_generation \(instance.me.generation)\n"
        text += "# TYPE switchboard_cluster_incarnation gauge\nswitchboard_cluster_incarnation \(instance.incarnation)\n"
        text += "# TYPE switchboard_cluster_local_health gauge\nswitchboard_cluster_local_health \(instance.awareness.score)\n"
        let heard = membership.presence.table.filter { $0.key != instance.me }.values.reduce(0) { $0 + $1.count }
        text += "# TYPE switchboard_cluster_presence_entries gauge\nswitchboard_cluster_presence_entries \(heard)\n"
        for (name, value) in [("probes", c.probes), ("indirect_probes", c.indirectProbes), ("nacks", c.nacksSent), ("suspicions_raised", c.suspicionsRaised),
                              ("suspicions_refuted", c.refutations), ("dead_declared", c.deadDeclared), ("gossip_datagrams", m.datagramsSent),
                              ("gossip_bytes", m.bytesSent), ("gossip_datagrams_received", m.datagramsReceived),
                              ("push_pulls_sent", m.pushPullsSent), ("push_pulls_received", m.pushPullsReceived), ("push_pulls_failed", m.pushPullsFailed)] {
            text += "# TYPE switchboard_cluster_\(name)_total counter\nswitchboard_cluster_\(name)_total \(value)\n"
        }
        text += "# TYPE switchboard_cluster_datagrams_dropped_total counter\n"
        for (reason, count) in m.dropped.sorted(by: { $0.key < $1.key }) {
            text += "switchboard_cluster_datagrams_dropped_total{reason=\"\(reason)\"} \(count)\n"
        }
        return text
    }

    /// Gauges read from the routing state at the time of the scrape.
    private func metrics() -> String {
        let core = node.core
        var waiting: [String: Int] = [:]
        var open = 0
        // Only what this router serves: the copies of partitions the table moved away are not its load.
        for partition in core.placement.ownedPartitions.map({ core.partitions[$0] }) {
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
        # TYPE switchboard_router_partitions_owned gauge
        switchboard_router_partitions_owned \(core.placement.ownedPartitions.count)
        # TYPE switchboard_router_fenced_messages_total counter
        switchboard_router_fenced_messages_total \(core.fencedMessages)
        # TYPE switchboard_router_undecodable_routing_messages_total counter
        switchboard_router_undecodable_routing_messages_total \(service.undecodableRouting)
        # TYPE switchboard_router_queue_length gauge

        """
        for (queue, count) in waiting.sorted(by: { $0.key < $1.key }) {
            let parts = queue.split(separator: "/")
            text += "switchboard_router_queue_length{site=\"\(parts[0])\",department=\"\(parts[1])\"} \(count)\n"
        }
        let m = service.metrics
        text += "# TYPE switchboard_router_commands_total counter\nswitchboard_router_commands_total \(m.commands)\n"
        text += "# TYPE switchboard_router_redirects_total counter\nswitchboard_router_redirects_total \(m.redirects)\n"
        text += "# TYPE switchboard_router_messages_total counter\nswitchboard_router_messages_total \(m.messages)\n"
        text += "# TYPE switchboard_router_assignments_total counter\nswitchboard_router_assignments_total \(m.assignments)\n"
        text += "# TYPE switchboard_router_gateway_send_failures_total counter\nswitchboard_router_gateway_send_failures_total \(m.failedSends)\n"
        text += "# TYPE switchboard_router_errors_total counter\n"
        for (code, count) in m.errors.sorted(by: { $0.key < $1.key }) { text += "switchboard_router_errors_total{code=\"\(code)\"} \(count)\n" }
        text += "# TYPE switchboard_router_wait_seconds histogram\n"
        for (index, bound) in RouterMetrics.waitBuckets.enumerated() {
            text += "switchboard_router_wait_seconds_bucket{le=\"\(Int(bound))\"} \(m.waitCounts[index])\n"
        }
        text += "switchboard_router_wait_seconds_bucket{le=\"+Inf\"} \(m.assignments)\n"
        text += "switchboard_router_wait_seconds_sum \(m.waitSum)\nswitchboard_router_wait_seconds_count \(m.assignments)\n"
        if let links {
            let l = links.metrics
            text += "# TYPE switchboard_router_routing_sent_total counter\nswitchboard_router_routing_sent_total \(l.sent)\n"
            text += "# TYPE switchboard_router_routing_dropped_total counter\nswitchboard_router_routing_dropped_total \(l.dropped)\n"
            text += "# TYPE switchboard_router_routing_links_established_total counter\nswitchboard_router_routing_links_established_total \(l.linksEstablished)\n"
        }
        if let membership { text += Self.membershipMetrics(membership) }
        if let control { text += Self.controlMetrics(control) }
        return text
    }
}
