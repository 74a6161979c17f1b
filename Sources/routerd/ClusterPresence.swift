import Presence
import Router
import Wire

/// Ties a router to the cluster: its homes' operator summaries go out by presence gossip,
/// the other routers' come in (`RouterNode.receiveGossiped`), a gone router's operators go
/// offline here, and the admin's member list is answered from membership and the gossiped
/// table. Runs on the router's loop.
enum ClusterPresence {
    /// Connects `node` and `service` to `membership`, or, without one (a router alone, or
    /// `routerd dev`), answers the member list with this router only.
    static func connect(node: RouterNode, service: RouterService, membership: MembershipNode?, nodeID: String, routing: ClusterRouting? = nil,
                        advertise: String? = nil) {
        node.loop.assertInLoop()
        guard let membership else {
            service.clusterMembers = { site in
                [ClusterMemberRow(node: nodeID, generation: 0, address: "", state: "alone", incarnation: 0,
                                  operatorsOnline: Int64(localOnline(node, site: site)), isSelf: true)]
            }
            return
        }
        node.onPublished = { summary in publish(summary, on: membership) }
        for summary in node.homeSummaries { publish(summary, on: membership) }
        if let advertise { _ = membership.publish(key: ClusterRouting.addressKey, value: Array(advertise.utf8)) }
        let learned = { (entry: PresenceEntry) in
            if entry.key == ClusterRouting.addressKey {
                routing?.learned(address: String(decoding: entry.value, as: UTF8.self), from: entry.origin)
                return
            }
            guard let summary = decode(entry) else { return }
            node.receiveGossiped(summary)
        }
        membership.onLearned = learned
        // Membership ran while the router waited for the table: what it heard meanwhile counts.
        let me = membership.instance.me
        for (origin, entries) in membership.presence.table.sorted(by: { $0.key < $1.key }) where origin != me {
            for entry in entries.values.sorted(by: { $0.key < $1.key }) { learned(entry) }
        }
        membership.onForgotten = { entries in
            for entry in entries where entry.key == ClusterRouting.addressKey { routing?.forgot(addressOf: entry.origin) }
            for summary in entries.compactMap(decode) { node.forgetGossiped(summary) }
        }
        service.clusterMembers = { site in members(of: membership, node: node, site: site) }
    }

    private static func publish(_ summary: OperatorSummary, on membership: MembershipNode) {
        guard membership.publish(key: summary.profile.id.raw, value: OperatorSummaryCodec.encode(summary)) else {
            log(.warning, "an operator's summary is too large to gossip; other routers keep the one before", [("operator", summary.profile.id.raw)])
            return
        }
    }

    private static func decode(_ entry: PresenceEntry) -> OperatorSummary? {
        guard entry.key != ClusterRouting.addressKey else { return nil }
        do {
            return try OperatorSummaryCodec.decode(entry.value)
        } catch {
            log(.warning, "a gossiped operator summary could not be read; it is ignored", [("from", "\(entry.origin)"), ("error", error.message)])
            return nil
        }
    }

    /// This router's operators of `site` online now (its homes are exact).
    private static func localOnline(_ node: RouterNode, site: SiteID) -> Int {
        node.homeSummaries.filter { $0.profile.site == site && $0.online }.count
    }

    /// Every router membership knows of, this one first, with its online operators of `site`.
    private static func members(of membership: MembershipNode, node: RouterNode, site: SiteID) -> [ClusterMemberRow] {
        let instance = membership.instance
        let me = ClusterMemberRow(node: instance.me.node, generation: Int64(instance.me.generation), address: instance.address, state: "alive",
                                  incarnation: Int64(instance.incarnation), operatorsOnline: Int64(localOnline(node, site: site)), isSelf: true)
        let others = instance.members.sorted { $0.key < $1.key }.map { member, state in
            let online = membership.presence.table[member]?.values.compactMap(decode).filter { $0.profile.site == site && $0.online }.count ?? 0
            return ClusterMemberRow(node: member.node, generation: Int64(member.generation), address: state.address, state: "\(state.status)",
                                    incarnation: Int64(state.incarnation), operatorsOnline: Int64(online), isSelf: false)
        }
        return [me] + others
    }
}
