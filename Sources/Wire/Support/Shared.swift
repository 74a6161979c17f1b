import Dispatch
import Synchronization

/// State shared between a loop thread and a control thread (a test, a load generator's
/// main thread). The control thread waits for a condition with a deadline and is woken by
/// every change: no sleeping, no polling interval.
public final class Shared<State: Sendable>: Sendable {
    private let state: Mutex<State>
    private let changed = DispatchSemaphore(value: 0)

    /// Shared state starting at `initial`.
    public init(_ initial: State) { state = Mutex(initial) }

    /// Changes the state and wakes a waiter.
    @discardableResult
    public func update<R>(_ body: (inout State) -> R) -> R {
        let result = state.withLock { body(&$0) }
        changed.signal()
        return result
    }

    /// Reads the state.
    public func read<R>(_ body: (State) -> R) -> R {
        state.withLock { body($0) }
    }

    /// Waits until `condition` holds; false if `seconds` pass first.
    public func wait(seconds: Double = 10, until condition: (State) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            if read(condition) { return true }
            if changed.wait(timeout: deadline) == .timedOut { return read(condition) }
        }
    }
}
