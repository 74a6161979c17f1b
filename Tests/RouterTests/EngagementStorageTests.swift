import Foundation
import Router
import Testing
import Wire

/// Canned responses, attachments and the mail outbox: what they keep, and what they refuse.
@Suite struct CannedResponsesTests {
    private func entry(_ shortcut: String, _ text: String, owner: String? = nil, site: SiteID = "shop") -> CannedResponses.Entry {
        .init(site: site, owner: owner, shortcut: shortcut, text: text)
    }

    @Test func anOperatorsOwnResponse_overridesTheSitesOfTheSameShortcut_andOthersSeeTheSites() throws {
        var responses = CannedResponses()
        try responses.save(entry("hi", "Hello from the shop"))
        try responses.save(entry("bye", "Bye"))
        try responses.save(entry("hi", "Hi, Anna here", owner: "anna"))
        try responses.save(entry("hi", "Other site", site: "other"))
        #expect(responses.visible(site: "shop", operator: "anna").map(\.text) == ["Hi, Anna here", "Bye"])
        #expect(responses.visible(site: "shop", operator: "ben").map(\.text) == ["Bye", "Hello from the shop"])
    }

    @Test func saving_replacesTheSameShortcut_andDeleting_saysWhetherThereWasOne() throws {
        var responses = CannedResponses()
        try responses.save(entry("hi", "one"))
        try responses.save(entry("hi", "two"))
        #expect(responses.visible(site: "shop", operator: "x").map(\.text) == ["two"])
        let deleted = responses.delete(site: "shop", owner: nil, shortcut: "hi")
        let deletedAgain = responses.delete(site: "shop", owner: nil, shortcut: "hi")
        let deletedMissing = responses.delete(site: "shop", owner: "anna", shortcut: "nope")
        #expect(deleted && !deletedAgain && !deletedMissing)
    }

    @Test func aSiteHoldsAtMostTheLimit_andAReplacementAtTheLimitStillWorks() throws {
        var responses = CannedResponses()
        for n in 0..<CannedResponses.maxPerSite { try responses.save(entry("s\(n)", "t")) }
        #expect(throws: RouterError.self) { try responses.save(entry("one-more", "t")) }
        try responses.save(entry("s0", "replaced"))
        try responses.save(entry("elsewhere", "t", site: "other"))
    }

    @Test func theStore_keepsResponsesAcrossReopening_andRefusesADamagedFile() throws {
        let directory = NSTemporaryDirectory() + "canned-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CannedStore(directory: directory)
        try store.update { (r) throws(RouterError) in try r.save(entry("hi", "Hello \"{visitor}\" 👋")) }
        try store.update { (r) throws(RouterError) in try r.save(entry("mine", "x", owner: "anna")) }
        // A refused change leaves memory and disk as they were.
        #expect(throws: RouterError.self) {
            try store.update { (r) throws(RouterError) in
                _ = r.delete(site: "shop", owner: nil, shortcut: "hi")
                throw .notFound("changed my mind")
            }
        }
        #expect(try CannedStore(directory: directory).responses == store.responses)
        #expect(store.responses.visible(site: "shop", operator: "anna").count == 2)

        let file = directory + "/canned.json"
        let bytes = try #require(FileManager.default.contents(atPath: file))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: file))
        #expect(throws: StorageError.self) { try CannedStore(directory: directory) }
    }
}

@Suite struct AttachmentStoreTests {
    @Test func storedBytes_comeBackByTheirId_andIdsCannotNameOtherFiles() throws {
        let directory = NSTemporaryDirectory() + "attachments-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try AttachmentStore(directory: directory)
        let bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47] + Array(repeating: 7, count: 1000)
        let id = try store.put(bytes)
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        #expect(store.get(id) == bytes)
        #expect(try store.put(bytes) != id, "each upload gets its own id")
        for bad in ["../canned.json", "", String(repeating: "A", count: 32), id + "0", "/etc/passwd"] { #expect(store.get(bad) == nil) }
        store.delete([id])
        #expect(store.get(id) == nil)
    }
}

@Suite struct MailOutboxTests {
    @Test func aQueuedMessage_isAWholeRFC5322File_andHeadersCannotBeInjected() throws {
        let directory = NSTemporaryDirectory() + "outbox-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outbox = try MailOutbox(directory: directory)
        let path = try outbox.enqueue(to: "maria@example.com\r\nBcc: all@example.com", subject: "Your chat\nX-Evil: 1", body: "line 1\nline 2",
                                      now: Date(timeIntervalSince1970: 1_700_000_000))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("From: Switchboard <no-reply@localhost>\r\nTo: maria@example.comBcc: all@example.com\r\nSubject: Your chatX-Evil: 1\r\n"))
        #expect(text.contains("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"))
        #expect(text.hasSuffix("\r\n\r\nline 1\r\nline 2"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [URL(fileURLWithPath: path).lastPathComponent])
    }
}
