import Foundation
@testable import Gateway
import Testing
import Wire

@Suite struct RateLimiterTests {
    @Test func burstThenSteadyRate() {
        var limiter = RateLimiter(rate: 10, burst: 5)
        let start: UInt64 = 1_000_000_000
        func count(at now: UInt64, tries: Int) -> Int {
            var allowed = 0
            for _ in 0..<tries where limiter.allow(now: now) { allowed += 1 }
            return allowed
        }
        let burst = count(at: start, tries: 6)
        #expect(burst == 5, "a full bucket allows the burst and no more")
        let afterTenthOfASecond = count(at: start + 100_000_000, tries: 3)
        #expect(afterTenthOfASecond == 1, "100 ms at 10/s refills one token")
        let afterLongPause = count(at: start + 10_000_000_000, tries: 8)
        #expect(afterLongPause == 5, "a long pause refills to the burst, no more")
    }
}

@Suite struct StaticFilesTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "switchboard-static-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path + "/js", withIntermediateDirectories: true)
        for (file, text) in [("/index.html", "<h1>shop</h1>"), ("/js/widget.js", "//"), ("/.secret", "x")] {
            #expect(FileManager.default.createFile(atPath: path + file, contents: Data(text.utf8)), "fixture \(file)")
        }
        return path
    }()

    @Test func filesAreServed_withTheirTypeAndCaching() {
        let index = StaticFiles.response(for: "/", in: directory)
        #expect(index.status == 200 && index.body == Array("<h1>shop</h1>".utf8))
        #expect(index.headers.contains { $0.name == "Content-Type" && $0.value.hasPrefix("text/html") })
        #expect(index.headers.contains { $0 == ("Cache-Control", "no-cache") })
        let script = StaticFiles.response(for: "/js/widget.js", in: directory)
        #expect(script.headers.contains { $0.name == "Content-Type" && $0.value.hasPrefix("text/javascript") })
    }

    @Test(arguments: ["/../etc/passwd", "/js/../../etc/passwd", "/.secret", "/js", "/missing.html", "/a\\b"])
    func escapesHiddenFilesDirectoriesAndMissingFiles_are404(path: String) {
        #expect(StaticFiles.response(for: path, in: directory).status == 404)
    }
}

@Suite struct UpgradeCheckTests {
    func request(_ headers: [(String, String)], method: String = "GET") -> HTTPRequest {
        HTTPRequest(method: method, target: "/ws", minorVersion: 1, headers: headers.map { (name: $0.0, value: $0.1) }, body: [])
    }
    let good = [("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"), ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]

    @Test func aProperUpgrade_passes() {
        #expect(HTTPConnection.upgradeProblem(request(good)) == nil)
    }

    @Test func eachMissingPiece_getsItsStatus() {
        #expect(HTTPConnection.upgradeProblem(request(good, method: "POST"))?.status == 405)
        #expect(HTTPConnection.upgradeProblem(request(good.filter { $0.0 != "Upgrade" }))?.status == 426)
        #expect(HTTPConnection.upgradeProblem(request(good.map { $0.0 == "Sec-WebSocket-Version" ? ($0.0, "8") : $0 }))?.status == 426)
        #expect(HTTPConnection.upgradeProblem(request(good.map { $0.0 == "Sec-WebSocket-Key" ? ($0.0, "short") : $0 }))?.status == 400)
    }
}

@Suite struct ForwardedForTests {
    @Test func forwardedFor_isBelievedOnlyFromATrustedProxy() {
        let trusted: Set<String> = ["127.0.0.1"]
        #expect(HTTPConnection.clientAddress(direct: "127.0.0.1", forwardedFor: "203.0.113.9", trustedProxies: trusted) == "203.0.113.9")
        // A client may prepend anything; the proxy appends the real address last.
        #expect(HTTPConnection.clientAddress(direct: "127.0.0.1", forwardedFor: "10.0.0.1, 198.51.100.7", trustedProxies: trusted) == "198.51.100.7")
        #expect(HTTPConnection.clientAddress(direct: "192.0.2.50", forwardedFor: "203.0.113.9", trustedProxies: trusted) == "192.0.2.50")
        #expect(HTTPConnection.clientAddress(direct: "127.0.0.1", forwardedFor: nil, trustedProxies: trusted) == "127.0.0.1")
        #expect(HTTPConnection.clientAddress(direct: "127.0.0.1", forwardedFor: " ", trustedProxies: trusted) == "127.0.0.1")
    }
}
