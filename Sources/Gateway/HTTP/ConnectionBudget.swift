import Synchronization

/// How many connections an HTTP server holds, in all and per client address. Without a
/// bound only the process's file limit stopped a client that opens connections and never
/// finishes a request (issue 10). Pure: the server counts opens and closes here.
public struct ConnectionBudget: Sendable, Equatable {
    /// Why a new connection was refused.
    public enum Refusal: Equatable, Sendable {
        /// The server holds `maxConnections` already.
        case full
        /// This address holds `maxPerAddress` already.
        case address
    }

    /// Most connections in all.
    public let maxConnections: Int
    /// Most connections from one address; 0 for no limit.
    public let maxPerAddress: Int
    /// Addresses not limited per address: the reverse proxies, whose connections carry
    /// many clients.
    public let exempt: Set<String>
    /// Connections held now.
    public private(set) var open = 0
    private var byAddress: [String: Int] = [:]

    /// An empty budget.
    public init(maxConnections: Int, maxPerAddress: Int, exempt: Set<String> = []) {
        (self.maxConnections, self.maxPerAddress, self.exempt) = (maxConnections, maxPerAddress, exempt)
    }

    /// Counts a new connection from `address`, or says why it may not stay.
    public mutating func admit(_ address: String) -> Refusal? {
        guard open < maxConnections else { return .full }
        let limited = maxPerAddress > 0 && !exempt.contains(address)
        if limited {
            guard byAddress[address, default: 0] < maxPerAddress else { return .address }
            byAddress[address, default: 0] += 1
        }
        open += 1
        return nil
    }

    /// Forgets a connection that `admit` let in.
    public mutating func release(_ address: String) {
        open -= 1
        guard maxPerAddress > 0, !exempt.contains(address), let count = byAddress[address] else { return }
        byAddress[address] = count > 1 ? count - 1 : nil
    }

    /// Connections held from `address` (exempt addresses are not counted).
    public func count(from address: String) -> Int { byAddress[address, default: 0] }
}

/// One `ConnectionBudget` shared by every connection of a server, whatever loop it is on.
public final class SharedConnectionBudget: Sendable {
    private let budget: Mutex<ConnectionBudget>

    /// A budget from the server's options.
    public init(_ options: HTTPServerOptions) {
        budget = Mutex(ConnectionBudget(maxConnections: options.maxConnections, maxPerAddress: options.maxConnectionsPerAddress,
                                        exempt: options.trustedProxies))
    }

    func admit(_ address: String) -> ConnectionBudget.Refusal? { budget.withLock { $0.admit(address) } }
    func release(_ address: String) { budget.withLock { $0.release(address) } }
    /// Connections held now.
    public var open: Int { budget.withLock { $0.open } }
}
