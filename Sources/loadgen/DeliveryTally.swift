/// What a measuring window counts of the messages delivered: only those that arrived inside
/// it. A message delivered after the window closed (while the run drains what was in
/// flight) is counted apart, so throughput is never the drain's deliveries divided by the
/// window's length.
struct DeliveryTally {
    /// Deliveries inside the window and their send-to-delivery latency.
    private(set) var delivered = 0
    private(set) var latency = Histogram()
    /// Deliveries after the window closed (checked for loss and order, not measured).
    private(set) var drained = 0
    /// False once `closeWindow` ran.
    private(set) var isOpen = true
    /// The window's share since the last `takeSlice`: one point of the per-second timeline.
    private var slice = Histogram()
    private var sliceDelivered = 0

    /// Starts a new window (after the warm-up): what came before is forgotten.
    mutating func openWindow() {
        self = DeliveryTally()
    }

    /// Ends the window: later deliveries are drained, not measured.
    mutating func closeWindow() {
        isOpen = false
    }

    /// One message delivered `latency` ns after it was sent.
    mutating func record(latency value: UInt64) {
        guard isOpen else {
            drained += 1
            return
        }
        delivered += 1
        latency.record(value)
        slice.record(value)
        sliceDelivered += 1
    }

    /// The deliveries since the last call and their latency.
    mutating func takeSlice() -> (delivered: Int, latency: Histogram) {
        defer {
            slice = Histogram()
            sliceDelivered = 0
        }
        return (sliceDelivered, slice)
    }
}
