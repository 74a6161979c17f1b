import Foundation

/// The progress line every scenario prints while it measures: one line a second with the
/// elapsed time and what the scenario has done so far, so a long run is never silent.
enum ProgressLine {
    /// Waits `seconds`, printing `sample()` after each second (and at the end).
    static func sleep(_ seconds: Double, _ sample: () throws -> String) rethrows {
        var elapsed = 0.0
        while elapsed < seconds {
            let step = min(1, seconds - elapsed)
            Thread.sleep(forTimeInterval: step)
            elapsed += step
            print(String(format: "  %5.1f s: ", elapsed) + (try sample()))
            fflush(nil)  // stdout may be a pipe
        }
    }

    /// Waits until `done()` or `limit` seconds, printing `sample()` each second; returns
    /// whether `done()` came true.
    static func wait(upTo limit: Double, until done: () -> Bool, _ sample: () -> String) -> Bool {
        let start = Date()
        var next = 1.0
        while !done() {
            let elapsed = Date().timeIntervalSince(start)
            if elapsed >= limit { return false }
            Thread.sleep(forTimeInterval: 0.05)
            if elapsed >= next {
                print(String(format: "  %5.1f s: ", elapsed) + sample())
                fflush(nil)  // stdout may be a pipe
                next += 1
            }
        }
        return true
    }
}
