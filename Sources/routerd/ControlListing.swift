import Presence
import Wire

/// The control plane as the admin API shows it (`GET /api/admin/partitions`).
enum ControlListing {
    static func status(of control: ControlNode) -> ControlStatus {
        let raft = control.raft
        let role = switch raft.role {
        case .leader: "leader"
        case .candidate: "candidate"
        case .preCandidate: "pre-candidate"
        case .follower: raft.isVoter ? "follower" : "observer"
        }
        return ControlStatus(leader: raft.leader?.name ?? "", role: role, term: Int64(raft.term), commitIndex: Int64(raft.commitIndex),
                             appliedIndex: Int64(raft.lastApplied), tableVersion: Int64(control.table.version),
                             voters: raft.configuration.sortedVoters.map(\.name), observers: raft.configuration.observers.sorted().map(\.name),
                             partitions: control.table.partitions.enumerated().map { index, entry in
                                 PartitionRow(partition: Int64(index), owner: entry.owner ?? "", epoch: Int64(entry.epoch), inSync: entry.inSync)
                             })
    }
}
