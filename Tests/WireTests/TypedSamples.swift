import Wire

/// One sample of every client command, server event and router reply case, with awkward
/// values (empty strings, non-ASCII, nil and non-nil optionals, extreme numbers). The
/// golden vectors freeze their encodings; the round-trip tests and the message fuzzer's
/// seeds use them too.
enum TypedSamples {
    static let commands: [(name: String, command: ClientCommand)] = [
        ("hello-token", .hello(token: "eyJ.a.b", site: nil)),
        ("hello-site", .hello(token: nil, site: "shop")),
        ("send", .send(conversation: "c1f", clientMessageID: "m-1", text: "Grüße 👋")),
        ("typing", .typing(conversation: "c1f", typing: true)),
        ("read", .read(conversation: "c1f", sequence: 12)),
        ("resume", .resume(conversation: "c1f", after: Int64.max)),
        ("start", .start(requestID: "r1", department: "billing", name: "Ayşe", email: nil, question: "Where is order 4711?")),
        ("pageView", .pageView(url: "/shop/item/7", title: nil)),
        ("cart", .cart(value: 129.95, items: 3)),
        ("leave", .leave(conversation: "c1f")),
        ("rate", .rate(conversation: "c1f", score: 5, comment: "")),
        ("departments", .departments),
        ("emailTranscript", .emailTranscript(conversation: "c1f", email: "a@example.com")),
        ("attach", .attach(conversation: "c1f", clientMessageID: "f-1", name: "photo.png", contentType: "image/png", data: [0x89, 0x50, 0x4E, 0x47, 0])),
        ("attachment", .attachment(conversation: "c1f", id: "a7")),
        ("setStatus", .setStatus(.away)),
        ("accept", .accept(conversation: "c1f")),
        ("decline", .decline(conversation: "c1f")),
        ("transfer", .transfer(conversation: "c1f", toOperator: nil, toDepartment: "support", note: "VIP")),
        ("end", .end(conversation: "c1f")),
        ("chats", .chats),
        ("queue", .queue),
        ("visitors", .visitors),
        ("navigate", .navigate(conversation: "c1f", url: "/shipping")),
        ("invite", .invite(visitor: "v-9", department: nil, text: "Hallo!")),
        ("canned", .canned),
        ("saveCanned", .saveCanned(shortcut: "thanks", text: "Thank you, {visitor}!", scope: .personal)),
        ("deleteCanned", .deleteCanned(shortcut: "thanks", scope: .site)),
        ("conversations", .conversations(includeClosed: true)),
        ("transcript", .transcript(conversation: "c1f")),
        ("operators", .operators),
        ("cluster", .cluster),
        ("partitions", .partitions),
    ]

    static let events: [(name: String, event: ServerEvent)] = [
        ("welcome", .welcome(role: "visitor", site: "shop", id: "v-9", token: nil)),
        ("accepted", .accepted(requestID: "m-1", conversation: "c1f", sequence: 7)),
        ("queued", .queued(conversation: "c1f", position: 2, estimatedWaitSeconds: 90, time: 1_764_600_000_123.456)),
        ("assigned", .assigned(conversation: "c1f", operatorID: "anna", operatorName: "Anna")),
        ("event", .event(conversation: "c1f", sequence: 3, time: 1_764_600_000_123, author: .operator(id: "anna", name: nil), kind: .message,
                         text: "Hello", attachment: nil)),
        ("event-attachment", .event(conversation: "c1f", sequence: 4, time: 0, author: .visitor, kind: .attachment, text: "photo.png",
                                    attachment: .init(id: "a7", name: "photo.png", contentType: "image/png", size: 524_288))),
        ("typing", .typing(conversation: "c1f", author: .visitor, typing: false)),
        ("read", .read(conversation: "c1f", author: .system, sequence: -1)),
        ("operatorLeft", .operatorLeft(conversation: "c1f")),
        ("transferred", .transferred(conversation: "c1f", toOperator: "carl", toDepartment: nil)),
        ("ended", .ended(conversation: "c1f")),
        ("offline", .offline(conversation: "c1f")),
        ("missed", .missed(conversation: "c1f")),
        ("offer", .offer(conversation: "c1f", visitor: "v-9", visitorName: "Ayşe", department: "billing", expiresInSeconds: 30,
                         queuedAt: 1_764_600_000_000.5, time: 1_764_600_003_000.25)),
        ("offerWithdrawn", .offerWithdrawn(conversation: "c1f", reason: "timeout")),
        ("statusChanged", .statusChanged(status: "away", reason: "missed offers")),
        ("departments", .departments([.init(id: "billing", online: true), .init(id: "sales", online: false)])),
        ("navigate", .navigate(conversation: "c1f", url: "/shipping")),
        ("invitation", .invitation(operatorID: "anna", operatorName: "Anna", department: "sales", text: "Can I help?")),
        ("error", .error(code: "unknown_conversation", message: "There is no conversation c2 of yours.", requestID: nil)),
    ]

    static let summary = ConversationSummary(conversation: "c1f", state: "ended", visitor: "v-9", department: "billing", priority: 1, events: 4,
                                             operatorID: "anna", visitorProfile: ["email": "a@example.com", "name": "Ayşe"],
                                             rating: .init(score: 4, comment: "quick"))

    static let replies: [(name: String, reply: RouterReply)] = [
        ("event", .event(.accepted(requestID: nil, conversation: nil, sequence: nil))),
        ("chats", .chats([summary])),
        ("queue", .queue([QueueEntry(summary: summary, position: 1, waitingSeconds: 42)])),
        ("visitors", .visitors([VisitorRow(visitor: "v-9", online: true, pages: 3, page: "/shop", title: nil, cartValue: 12.5, cartItems: 1,
                                          conversation: nil, previousConversations: [.init(conversation: "c0", department: "sales", state: "ended", rating: nil)],
                                          history: [.init(url: "/shop", time: 1_764_600_000_000, title: "Shop")])])),
        ("conversations", .conversations([])),
        ("transcript", .transcript(Transcript(summary: summary, events: [events[4].event, events[5].event]))),
        ("operators", .operators([OperatorRow(id: "anna", name: "Anna", status: "online", connected: true, chats: 1, maxChats: 3,
                                              skills: ["billing": 2, "sales": 5])])),
        ("canned", .canned([CannedEntry(shortcut: "thanks", text: "Thank you!", scope: .site)])),
        ("file", .file(AttachmentContent(name: "r.pdf", contentType: "application/pdf", data: [0x25, 0x50, 0x44, 0x46]))),
        ("cluster", .cluster([ClusterMemberRow(node: "router-b", generation: 3, address: "10.0.0.2:7946", state: "suspect", incarnation: 2,
                                               operatorsOnline: 4, isSelf: false)])),
        ("partitions", .partitions(ControlStatus(leader: "router-1", role: "follower", term: 3, commitIndex: 70, appliedIndex: 70, tableVersion: 66,
                                                 voters: ["router-1", "router-2", "router-3"], observers: [],
                                                 partitions: [PartitionRow(partition: 0, owner: "router-2", epoch: 2, inSync: ["router-2"])]))),
    ]

    static let principal = Principal(site: "shop", role: .operator, id: "anna", attributes: ["name": "Anna"])
}

import Testing

/// The client protocol defined once: every command and event written as JSON reads back as
/// itself, and the hot events' direct writer makes exactly the generic writer's bytes.
@Suite struct ClientProtocolRoundTripTests {
    @Test func everyCommand_writtenAsJSON_parsesBackToItself() throws {
        for sample in TypedSamples.commands {
            let parsed = try ClientCommand.parse(sample.command.json(), maxBytes: ClientCommand.maxAttachCommandBytes)
            #expect(parsed == sample.command, "\(sample.name)")
        }
    }

    @Test func everyEvent_writtenAsJSON_parsesBackToItself() {
        for sample in TypedSamples.events {
            #expect(ServerEvent.parse(sample.event.json()) == sample.event, "\(sample.name)")
        }
    }

    @Test func theDirectWriter_makesTheSameBytesAsTheGenericOne() {
        var events = TypedSamples.events.map(\.event)
        events.append(.event(conversation: "c\"1\\", sequence: 0, time: -5, author: .operator(id: "a\n", name: "Ann \u{1}"), kind: .notice,
                             text: "quote \" tab \t ü", attachment: nil))
        events.append(.accepted(requestID: nil, conversation: nil, sequence: nil))
        events.append(.accepted(requestID: "r", conversation: nil, sequence: 0))
        for event in events {
            #expect(event.json() == JSONText.serialize(event.jsonObject), "\(event)")
        }
    }
}
