import Router
import Testing

@Suite struct PartitionHashTests {
    @Test func hash_isStableAcrossProcessesAndBuilds() {
        // Pinned values: changing the hash would move every stored conversation to another partition.
        #expect(PartitionHash.hash("c-1") == 0xD26B4688137D76A1)
        #expect(PartitionHash.partition(of: "conversation-42", count: 1024) == 790)
        #expect(PartitionHash.hash("c-1") != PartitionHash.hash("c-2"))
    }

    @Test func similarIds_spreadEvenlyOverPartitions() {
        var counts = [Int](repeating: 0, count: 64)
        for n in 0..<64_000 { counts[PartitionHash.partition(of: ConversationID("c-\(n)"), count: 64)] += 1 }
        // 1,000 expected per partition; a decent hash stays well within ±20 %.
        #expect(counts.min()! > 800 && counts.max()! < 1200, "\(counts.min()!) ... \(counts.max()!)")
    }
}

@Suite struct LifecycleTests {
    @Test(arguments: Harness.nodeCounts) func conversation_goesQueuedOfferedActiveEnded_andFreesTheSlot(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        let id = try h.start("v1", "sales")
        #expect(h.state(id) == .offered)
        #expect(h.assigned(id) == "ben")
        try h.accept(id, "ben")
        #expect(h.state(id) == .active)
        #expect(h.home("ben").held == [id])
        try h.end(id, "ben")
        #expect(h.state(id) == .ended)
        #expect(h.home("ben").held.isEmpty)
        #expect(h.conversation(id)!.events.map(\.sequence) == [1, 2])
    }

    @Test(arguments: Harness.nodeCounts) func start_whileAConversationIsOpen_returnsTheSameConversation(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        let first = try h.start("v1", "sales")
        let again = try h.start("v1", "billing")
        #expect(first == again)
        let persisted = h.effects.filter { if case .persist(_, .started) = $0 { return true } else { return false } }
        #expect(persisted.count == 1)
    }

    @Test(arguments: Harness.nodeCounts) func start_withNobodyOnline_becomesAnOfflineMessage(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        let id = try h.start("v1", "support")
        #expect(h.state(id) == .offline)
        #expect(h.effects.contains(.toVisitor(id, .offline)))
        let seq = try h.visitorSend(id, "please call me back", messageID: "m1")
        #expect(seq == 1)
        // The visitor may start a new chat later: the offline one is not "open".
        #expect(try h.start("v1", "support") != id)
    }

    @Test(arguments: Harness.nodeCounts) func visitorLeaving_whileQueued_abandons_andNobodyIsOfferedIt(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        try h.fillSlots("ben", 2, "sales")
        let id = try h.start("v1", "sales")
        #expect(h.state(id) == .queued)
        try h.execute(.leave(id))
        #expect(h.state(id) == .abandoned)
        try h.online("anna")
        #expect(h.offers(to: "anna").isEmpty)
    }

    @Test(arguments: Harness.nodeCounts) func visitorLeaving_whileOffered_withdrawsTheOffer_andFreesTheSlot(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        let id = try h.start("v1", "sales")
        try h.execute(.leave(id))
        #expect(h.state(id) == .abandoned)
        #expect(h.home("ben").held.isEmpty)
        #expect(h.effects.contains(.toOperator("ben", .offerWithdrawn(id, reason: "visitor left"))))
    }

    @Test(arguments: Harness.nodeCounts) func waitingPastTheWaitLimit_marksTheConversationMissed(nodes: Int) throws {
        var settings = RoutingSettings()
        settings.waitLimit = Nanos.seconds(300)
        var h = Harness(settings: settings, nodes: nodes)
        try h.online("ben")
        try h.fillSlots("ben", 2, "sales")
        let id = try h.start("v1", "sales")
        h.advance(seconds: 299)
        #expect(h.state(id) == .queued)
        h.advance(seconds: 1)
        #expect(h.state(id) == .missed)
        #expect(h.effects.contains(.toVisitor(id, .missed)))
    }
}

@Suite struct QueueOrderTests {
    /// Queues conversations with nobody available, then lets one operator take them one by
    /// one: the order they are offered is the queue order.
    private func serviceOrder(_ arrivals: [(visitor: String, priority: Int, after: UInt64)], settings: RoutingSettings = RoutingSettings(),
                              nodes: Int) throws -> [String] {
        var h = Harness(settings: settings, operators: [Harness.op("solo", ["sales": 3], max: 1)], nodes: nodes)
        try h.online("solo")
        let blocker = try h.fillSlots("solo", 1, "sales")[0]
        var byID: [ConversationID: String] = [:]
        for arrival in arrivals {
            h.advance(arrival.after)
            byID[try h.start(arrival.visitor, "sales", priority: arrival.priority)] = arrival.visitor
        }
        try h.end(blocker, "solo")
        var order: [String] = []
        while let id = h.offers(to: "solo").last, id != blocker, order.count < arrivals.count {
            order.append(byID[id]!)
            try h.accept(id, "solo")
            try h.end(id, "solo")
        }
        return order
    }

    @Test(arguments: Harness.nodeCounts) func samePriority_isServedFirstInFirstOut(nodes: Int) throws {
        let order = try serviceOrder([("a", 0, 0), ("b", 0, Nanos.seconds(1)), ("c", 0, Nanos.seconds(1))], nodes: nodes)
        #expect(order == ["a", "b", "c"])
    }

    @Test(arguments: Harness.nodeCounts) func higherPriority_isServedFirst_amongCloseArrivals(nodes: Int) throws {
        let order = try serviceOrder([("low", 0, 0), ("high", 1, Nanos.seconds(5)), ("low2", 0, Nanos.seconds(1))], nodes: nodes)
        #expect(order == ["high", "low", "low2"])
    }

    @Test(arguments: Harness.nodeCounts) func aging_letsALongWaitGoAheadOfNewerHighPriority(nodes: Int) throws {
        // Aging interval 60 s: after waiting 90 s, a priority-0 chat ranks ahead of a new priority-1 one.
        let order = try serviceOrder([("old", 0, 0), ("new-high", 1, Nanos.seconds(90))], nodes: nodes)
        #expect(order == ["old", "new-high"])
    }

    @Test(arguments: Harness.nodeCounts) func queuePosition_andEstimatedWait_areToldToEachWaitingVisitor(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        try h.fillSlots("ben", 2, "sales")
        let a = try h.start("a", "sales")
        h.advance(seconds: 1)
        let b = try h.start("b", "sales")
        h.refreshQueuePositions()
        #expect(h.lastQueueNotice(a)?.position == 1)
        #expect(h.lastQueueNotice(b)?.position == 2)
        // One operator online for sales with 2 slots, handle time 180 s: one position ≈ 90 s.
        #expect(h.lastQueueNotice(a)?.wait == Nanos.seconds(90))
        #expect(h.lastQueueNotice(b)?.wait == Nanos.seconds(180))
        let before = h.effects.count
        h.refreshQueuePositions()
        #expect(h.effects.count == before, "unchanged figures are not sent again")
    }
}

@Suite struct AssignmentTests {
    @Test(arguments: Harness.nodeCounts) func leastLoaded_thenLongestIdle_isTheDefaultPolicy(nodes: Int) throws {
        var h = Harness(operators: [Harness.op("x", ["sales": 1], max: 3), Harness.op("y", ["sales": 1], max: 3)], nodes: nodes)
        try h.online("x")
        h.advance(seconds: 10)
        try h.online("y")
        let first = try h.start("v1", "sales")
        #expect(h.assigned(first) == "x", "equal load: x has been idle longer")
        let second = try h.start("v2", "sales")
        #expect(h.assigned(second) == "y", "x now holds one chat")
    }

    @Test(arguments: Harness.nodeCounts) func mostProficient_prefersTheHigherLevel(nodes: Int) throws {
        var settings = RoutingSettings()
        settings.policy = .mostProficient
        var h = Harness(settings: settings, nodes: nodes)
        try h.online("ben", "anna")
        let id = try h.start("v1", "sales")
        #expect(h.assigned(id) == "anna")
    }

    @Test(arguments: Harness.nodeCounts) func roundRobin_takesOperatorsInTurn(nodes: Int) throws {
        var settings = RoutingSettings()
        settings.policy = .roundRobin
        settings.autoAccept = true
        var h = Harness(settings: settings, operators: ["p", "q", "r"].map { Harness.op($0, ["sales": 1], max: 10) }, nodes: nodes)
        try h.online("p", "q", "r")
        var chosen: [OperatorID] = []
        for n in 0..<6 {
            let id = try h.start("v\(n)", "sales")
            guard let op = h.assigned(id) else {
                Issue.record("v\(n) not assigned: \(String(describing: h.state(id))) \(h.effects.suffix(6))")
                return
            }
            chosen.append(op)
        }
        #expect(chosen == ["p", "q", "r", "p", "q", "r"])
    }

    @Test(arguments: Harness.nodeCounts) func skillLevel_belowTheRequiredMinimum_isNotOffered_untilEscalation(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")  // sales level 2
        let id = try h.start("v1", "sales", level: 4)
        #expect(h.state(id) == .queued)
        h.advance(seconds: 59)
        #expect(h.state(id) == .queued)
        h.advance(seconds: 1)  // escalation step at 60 s: any sales operator
        #expect(h.state(id) == .offered)
        #expect(h.assigned(id) == "ben")
    }

    @Test(arguments: Harness.nodeCounts) func capacity_isNeverExceeded(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")  // max 2
        let ids = try (0..<5).map { n throws(RouterError) in try h.start("v\(n)", "sales") }
        #expect(ids.filter { h.assigned($0) == "ben" }.count == 2)
        #expect(h.home("ben").held.count == 2)
    }

    @Test(arguments: Harness.nodeCounts) func freedSlot_pullsTheOldestWaitingConversation(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        let ids = try (0..<4).map { n throws(RouterError) in
            h.advance(seconds: 1)
            return try h.start("v\(n)", "sales")
        }
        try h.accept(ids[0], "ben")
        try h.end(ids[0], "ben")
        #expect(h.assigned(ids[2]) == "ben")
        #expect(h.state(ids[3]) == .queued)
    }

    @Test(arguments: Harness.nodeCounts) func operatorComingOnline_pullsWaitingConversations_uptoCapacity(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("carl")
        try h.fillSlots("carl", 3, "billing")
        let waiting = try (0..<3).map { n throws(RouterError) in
            h.advance(seconds: 1)  // arrivals at the same instant on different partitions tie
            return try h.start("v\(n)", "billing")
        }
        #expect(waiting.allSatisfy { h.state($0) == .queued })
        try h.online("anna")  // billing level 2, two slots
        #expect(h.offers(to: "anna") == Array(waiting.prefix(2)))
        #expect(h.state(waiting[2]) == .queued)
    }
}

@Suite struct OfferTests {
    @Test(arguments: Harness.nodeCounts) func offer_notAcceptedInTime_goesToTheNextCandidate_andCountsAMiss(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("anna", "ben")
        let id = try h.start("v1", "sales")
        let first = h.assigned(id)!
        h.advance(seconds: 30)
        #expect(h.assigned(id) != first)
        #expect(h.state(id) == .offered)
        #expect(h.homes[first]!.consecutiveMisses == 1)
    }

    @Test(arguments: Harness.nodeCounts) func declinedOffer_isNotOfferedToTheSameOperatorAgain(nodes: Int) throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 2)], nodes: nodes)
        try h.online("solo")
        let id = try h.start("v1", "sales")
        try h.decline(id, "solo")
        #expect(h.state(id) == .queued)
        #expect(h.offers(to: "solo") == [id])
    }

    @Test(arguments: Harness.nodeCounts) func twoMissesInARow_setTheOperatorAway(nodes: Int) throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 1), Harness.op("other", ["support": 1], max: 1)], nodes: nodes)
        try h.online("solo")
        let a = try h.start("a", "sales")
        h.advance(seconds: 30)
        let b = try h.start("b", "sales")
        #expect(h.assigned(b) == "solo")
        h.advance(seconds: 30)
        #expect(h.home("solo").status == .away)
        #expect(h.effects.contains(.toOperator("solo", .statusChanged(.away, reason: "2 offers missed in a row"))))
        #expect(h.state(a) == .queued && h.state(b) == .queued)
    }

    @Test(arguments: Harness.nodeCounts) func acceptingAfterTheOfferExpired_isRefused(nodes: Int) throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 1)], nodes: nodes)
        try h.online("solo")
        let id = try h.start("v1", "sales")
        h.advance(seconds: 31)
        #expect(throws: RouterError.noSuchOffer(id, "solo")) { try h.accept(id, "solo") }
    }

    @Test(arguments: Harness.nodeCounts) func autoAccept_makesTheChatActiveAtOnce(nodes: Int) throws {
        var settings = RoutingSettings()
        settings.autoAccept = true
        var h = Harness(settings: settings, nodes: nodes)
        try h.online("ben")
        let id = try h.start("v1", "sales")
        #expect(h.state(id) == .active)
        #expect(h.effects.contains(.toVisitor(id, .assigned("ben", displayName: "Ben"))))
    }
}

@Suite struct DisconnectTests {
    /// Tried as a new user would: a console reload showed the shop's widget "offline" for a
    /// moment. Now an operator counts as online for visitors for `presenceGrace` (5 s) after
    /// their last console went, though nobody offers them a chat meanwhile.
    @Test(arguments: Harness.nodeCounts) func aConsoleReload_keepsTheOperatorOnlineForVisitors_butOffersThemNothing(nodes: Int) throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 2)], nodes: nodes)
        func online() -> Bool {
            let views = h.nodes.map { $0.anyoneOnline(site: "shop", skill: "sales") }
            precondition(Set(views).count == 1, "every router agrees: \(views)")
            return views[0]
        }
        try h.online("solo")
        try h.execute(.disconnect("solo"))
        #expect(online(), "a console reload does not flash offline")
        let id = try h.start("v1", "sales")
        #expect(h.state(id) == .queued, "the chat waits for them rather than becoming an offline message")
        h.advance(seconds: 2)
        try h.execute(.connect("solo"))
        #expect(h.state(id) == .offered && h.assigned(id) == "solo", "back: the waiting chat is theirs")
        h.advance(seconds: 10)
        #expect(online())
        try h.execute(.disconnect("solo"))
        h.advance(seconds: 5)
        #expect(!online(), "gone for good after the presence grace")
        let later = try h.start("v2", "sales")
        #expect(h.state(later) == .offline)
    }

    @Test(arguments: Harness.nodeCounts) func reconnectWithinGrace_keepsTheChats(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        let id = try h.start("v1", "sales")
        try h.accept(id, "ben")
        try h.execute(.disconnect("ben"))
        h.advance(seconds: 20)
        try h.execute(.connect("ben"))
        h.advance(seconds: 20)
        #expect(h.state(id) == .active)
        #expect(h.assigned(id) == "ben")
    }

    @Test(arguments: Harness.nodeCounts) func graceExpired_requeuesTheChatsAtTheFront(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        let mine = try h.start("v1", "sales")
        try h.accept(mine, "ben")
        let busy = try h.start("v2", "sales")  // ben's second slot
        try h.accept(busy, "ben")
        let waiting = try h.start("v3", "sales")  // waits: ben is full
        try h.execute(.disconnect("ben"))
        h.advance(seconds: 30)
        #expect(h.home("ben").status == .offline)
        #expect(h.effects.contains(.toVisitor(mine, .operatorLeft)))
        // Anna comes online with two slots: ben's chats go first, ahead of the earlier waiting v3.
        try h.online("anna")
        #expect(Set(h.offers(to: "anna")) == [mine, busy])
        #expect(h.state(waiting) == .queued)
    }
}

@Suite struct MessageTests {
    @Test(arguments: Harness.nodeCounts) func retriedSend_withTheSameClientMessageID_returnsTheOriginalSequence_andStoresOnce(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        let id = try h.start("v1", "sales")
        let first = try h.visitorSend(id, "hello", messageID: "m-1")
        let retry = try h.visitorSend(id, "hello", messageID: "m-1")
        #expect(first == retry)
        #expect(h.conversation(id)!.events.count == 1)
    }

    @Test(arguments: Harness.nodeCounts) func operatorNotAssigned_cannotWrite(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben", "anna")
        let id = try h.start("v1", "sales")
        let assigned = h.assigned(id)!
        try h.accept(id, assigned.raw)
        let other: OperatorID = assigned == "ben" ? "anna" : "ben"
        #expect(throws: RouterError.notAssigned(id, other)) {
            try h.execute(.send(id, author: .operator(other), clientMessageID: "o1", text: "hi"))
        }
    }

    @Test(arguments: Harness.nodeCounts) func emptyOrHugeMessages_areRefused_andNothingIsStored(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        let id = try h.start("v1", "sales")
        for text in ["", String(repeating: "x", count: Partition.maxMessageBytes + 1)] {
            #expect(throws: RouterError.self) {
                try h.visitorSend(id, text)
            }
        }
        #expect(h.conversation(id)!.events.isEmpty)
    }

    @Test(arguments: Harness.nodeCounts) func unknownDepartment_isRefused(nodes: Int) {
        var h = Harness(nodes: nodes)
        #expect(throws: RouterError.unknownDepartment("legal")) { try h.start("v1", "legal") }
    }
}

@Suite struct TransferTests {
    @Test(arguments: Harness.nodeCounts) func transferToADepartment_goesBackThroughTheQueue_toSomeoneElse(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("anna", "carl")
        let id = try h.start("v1", "sales")
        #expect(h.assigned(id) == "anna")
        try h.accept(id, "anna")
        try h.execute(.transfer(id, by: "anna", to: .department("support"), note: "printer question"))
        #expect(h.assigned(id) == "carl")
        #expect(h.state(id) == .offered)
        #expect(h.conversation(id)!.requirement.skill == "support")
        #expect(h.home("anna").held.isEmpty)
    }

    @Test(arguments: Harness.nodeCounts) func transferToANamedOperator_offersItToThem(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("anna", "ben")
        let id = try h.start("v1", "sales")
        let from = h.assigned(id)!
        try h.accept(id, from.raw)
        let to: OperatorID = from == "anna" ? "ben" : "anna"
        try h.execute(.transfer(id, by: from, to: .operator(to), note: ""))
        #expect(h.assigned(id) == to)
        #expect(h.state(id) == .offered)
    }
}

@Suite struct RecoveryReplayTests {
    @Test(arguments: Harness.nodeCounts) func replayingThePersistedRecords_rebuildsConversationsAndQueueOrder(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        var ids: [ConversationID] = []
        for n in 0..<6 {
            h.advance(seconds: 1)
            ids.append(try h.start("v\(n)", "sales", priority: n % 2))
        }
        try h.accept(ids[0], "ben")
        try h.visitorSend(ids[0], "hi")
        let rebuilt = h.rebuilt()
        for id in ids {
            let (original, recovered) = (h.conversation(id)!, rebuilt.conversation(id)!)
            #expect(recovered.events == original.events)
            #expect(recovered.rank == original.rank)
            #expect(recovered.state == (original.state == .offered ? .queued : original.state))
        }
        #expect(rebuilt.homes["ben"]!.held.contains(ids[0]))
        #expect(rebuilt.openConversations == h.openConversations)
    }
}

@Suite struct RatingTests {
    @Test(arguments: Harness.nodeCounts) func aChatIsRatedOnce_afterItEnded(nodes: Int) throws {
        var h = Harness(nodes: nodes)
        try h.online("ben")
        let id = try h.start("v1", "sales")
        try h.accept(id, "ben")
        let good = Rating(score: 5, comment: "quick and kind")
        #expect(throws: RouterError.self) {
            try h.execute(.rate(id, good))
        }
        try h.end(id, "ben")
        try h.execute(.rate(id, good))
        #expect(h.conversation(id)?.rating == good)
        #expect(throws: RouterError.self) {
            try h.execute(.rate(id, Rating(score: 1, comment: "")))
        }
        #expect(h.conversation(id)?.rating == good)
        #expect(h.effects.contains(.persist(partition: h.nodes[0].partitionIndex(of: id), .rated(id, good))))
    }
}

@Suite struct VisitorTrackerTests {
    @Test(arguments: Harness.nodeCounts) func pagesAndCart_areTracked_andGoneVisitorsAreForgotten(nodes: Int) {
        var tracker = VisitorTracker(forgetAfter: Nanos.seconds(60))
        tracker.pageView(site: "shop", visitor: "v1", session: 1, url: "/p/shoes", title: "Shoes", now: 1)
        tracker.cart(site: "shop", visitor: "v1", session: 1, value: 129.9, items: 2, now: 2)
        tracker.pageView(site: "shop", visitor: "v2", session: 2, url: "/", title: nil, now: 3)
        tracker.pageView(site: "other", visitor: "v3", session: 3, url: "/", title: nil, now: 3)
        var list = tracker.visitors(of: "shop", now: 4)
        #expect(list.map(\.id) == ["v2", "v1"], "most recent first, one site only")
        #expect(list[1].cart?.value == 129.9 && list[1].pages.map(\.url) == ["/p/shoes"])
        tracker.sessionClosed(2, now: 5)
        list = tracker.visitors(of: "shop", now: 6)
        #expect(list.map(\.id) == ["v1", "v2"], "online visitors first")
        list = tracker.visitors(of: "shop", now: 5 + Nanos.seconds(61))
        #expect(list.map(\.id) == ["v1"], "a visitor gone for longer than forgetAfter is dropped")
    }

    @Test(arguments: Harness.nodeCounts) func pageHistory_isBounded(nodes: Int) {
        var tracker = VisitorTracker()
        for n in 0..<(VisitorTracker.maxPages + 10) {
            tracker.pageView(site: "shop", visitor: "v1", session: 1, url: "/p/\(n)", title: nil, now: UInt64(n))
        }
        let pages = tracker.visitors(of: "shop", now: 100).first?.pages ?? []
        #expect(pages.count == VisitorTracker.maxPages && pages.last?.url == "/p/\(VisitorTracker.maxPages + 9)")
    }

    /// Regression (issue 10): gone visitors were forgotten only when an operator listed the
    /// visitors, so a router nobody looked at kept every visitor it had ever seen.
    @Test(arguments: Harness.nodeCounts) func goneVisitors_areForgotten_withoutAnyoneListingThem(nodes: Int) {
        var tracker = VisitorTracker(forgetAfter: Nanos.seconds(60))
        for n in 0..<1_000 {
            tracker.pageView(site: "shop", visitor: VisitorID("v\(n)"), session: UInt64(n), url: "/", title: nil, now: Nanos.seconds(1))
            tracker.sessionClosed(UInt64(n), now: Nanos.seconds(2))
        }
        tracker.pageView(site: "shop", visitor: "stays", session: 5_000, url: "/", title: nil, now: Nanos.seconds(100))
        #expect(tracker.count == 1_001)
        tracker.sessionClosed(9_999, now: Nanos.seconds(120))  // a session the tracker never saw
        #expect(tracker.count == 1, "only the visitor still connected is kept")
    }
}
