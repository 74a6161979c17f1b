import Testing
import Wire
@testable import Router

/// The authorisation rules, case by case: a pure function of command, principal and what
/// the router knows of the conversation.
@Suite struct AuthorizationTests {
    let maria = Principal(site: "shop", role: .visitor, id: "maria")
    let anna = Principal(site: "shop", role: .operator, id: "anna")
    let admin = Principal(site: "shop", role: .admin, id: "boss")

    func facts(site: SiteID = "shop", visitor: VisitorID = "maria", assigned: OperatorID? = "shop/anna", participants: Set<OperatorID> = [],
               live: Bool = true) -> Authorization.ConversationFacts {
        .init(site: site, visitor: visitor, assignedOperator: assigned, participants: participants, live: live)
    }

    func decide(_ command: ClientCommand, _ principal: Principal, _ conversation: Authorization.ConversationFacts?,
                operatorOnSite: Bool = true) -> Authorization.Decision {
        Authorization.decide(command, by: principal, conversation: conversation, operatorOnSite: operatorOnSite)
    }

    func code(_ decision: Authorization.Decision) -> String? {
        if case .refused(let code, _) = decision { return code }
        return nil
    }

    @Test func aVisitor_writesOnlyInTheirOwnLiveConversation() {
        let send = ClientCommand.send(conversation: "c1", clientMessageID: "m", text: "hi")
        #expect(decide(send, maria, facts()) == .allowed)
        #expect(code(decide(send, maria, facts(visitor: "someone-else"))) == "unknown_conversation")
        #expect(code(decide(send, maria, facts(site: "other-shop"))) == "unknown_conversation", "the site is the token's")
        #expect(code(decide(send, maria, facts(live: false))) == "unknown_conversation", "an archived chat takes no messages")
        #expect(code(decide(send, maria, nil)) == "unknown_conversation")
    }

    @Test func aVisitor_mayResumeRateAndReadFilesOfAnArchivedChatOfTheirs() {
        for command in [ClientCommand.resume(conversation: "c1", after: 0), .rate(conversation: "c1", score: 5, comment: nil),
                        .attachment(conversation: "c1", id: "a1"), .emailTranscript(conversation: "c1", email: "m@example.com")] {
            #expect(Authorization.acceptsArchived(command))
            #expect(decide(command, maria, facts(live: false)) == .allowed)
            #expect(code(decide(command, maria, facts(visitor: "x", live: false))) == "unknown_conversation")
        }
        #expect(!Authorization.acceptsArchived(.send(conversation: "c1", clientMessageID: "m", text: "x")))
    }

    @Test func typingAndReadReceipts_forAChatThatIsNotTheirs_areDroppedSilently() {
        let typing = ClientCommand.typing(conversation: "c1", typing: true)
        #expect(decide(typing, maria, facts()) == .allowed)
        #expect(decide(typing, maria, facts(assigned: nil)) == .ignored, "nobody to tell yet")
        #expect(decide(typing, maria, facts(visitor: "x")) == .ignored)
        #expect(decide(typing, anna, facts()) == .allowed)
        #expect(decide(typing, anna, facts(assigned: "shop/ben")) == .ignored)
    }

    @Test func visitors_cannotList_norActAsOperators() {
        for command in [ClientCommand.chats, .queue, .visitors, .conversations(includeClosed: false), .operators, .transcript(conversation: "c1")] {
            #expect(code(decide(command, maria, facts())) == "forbidden")
        }
        for command in [ClientCommand.accept(conversation: "c1"), .end(conversation: "c1"), .setStatus(.online), .canned,
                        .invite(visitor: "v", department: nil, text: nil)] {
            #expect(code(decide(command, maria, facts())) == "not_supported")
        }
        #expect(decide(.start(requestID: "r", department: "sales", name: nil, email: nil, question: nil), maria, nil) == .allowed)
    }

    @Test func anOperator_mustBeOneOfTheSitesOperators() {
        #expect(code(decide(.setStatus(.online), anna, nil, operatorOnSite: false)) == "unknown_operator")
        #expect(code(decide(.accept(conversation: "c1"), anna, facts(), operatorOnSite: false)) == "unknown_operator")
    }

    @Test func anOperator_actsOnLiveConversationsOfTheirSiteOnly() {
        for command in [ClientCommand.accept(conversation: "c1"), .decline(conversation: "c1"), .end(conversation: "c1"),
                        .send(conversation: "c1", clientMessageID: "m", text: "x"),
                        .transfer(conversation: "c1", toOperator: nil, toDepartment: "billing", note: nil)] {
            #expect(decide(command, anna, facts(assigned: nil)) == .allowed, "the partition decides whether the offer is theirs")
            #expect(code(decide(command, anna, facts(site: "other-shop"))) == "unknown_conversation")
            #expect(code(decide(command, anna, facts(live: false))) == "unknown_conversation")
        }
    }

    @Test func resumeAndNavigate_needTheChatToBeTheOperators() {
        for command in [ClientCommand.resume(conversation: "c1", after: 0), .navigate(conversation: "c1", url: "/shipping")] {
            #expect(decide(command, anna, facts()) == .allowed)
            #expect(code(decide(command, anna, facts(assigned: "shop/ben"))) == "not_assigned")
        }
    }

    @Test func files_ofAChat_areForItsOperators_andTheAdmin() {
        let file = ClientCommand.attachment(conversation: "c1", id: "a1")
        #expect(decide(file, anna, facts(assigned: "shop/ben", participants: ["shop/anna"], live: false)) == .allowed, "she was in it")
        #expect(code(decide(file, anna, facts(assigned: "shop/ben", live: false))) == "unknown_conversation")
        #expect(decide(file, admin, facts(assigned: "shop/ben", live: false)) == .allowed)
        #expect(code(decide(file, admin, facts(site: "other-shop"))) == "unknown_conversation")
    }

    @Test func siteWideListings_andSiteCannedResponses_needTheAdminRole() {
        for command in [ClientCommand.conversations(includeClosed: true), .operators] {
            #expect(code(decide(command, anna, nil)) == "forbidden")
            #expect(decide(command, admin, nil) == .allowed)
        }
        #expect(code(decide(.transcript(conversation: "c1"), anna, facts())) == "forbidden")
        #expect(decide(.transcript(conversation: "c1"), admin, facts(live: false)) == .allowed)
        #expect(code(decide(.transcript(conversation: "c1"), admin, nil)) == "unknown_conversation")
        #expect(decide(.saveCanned(shortcut: "hi", text: "Hello", scope: .personal), anna, nil) == .allowed)
        #expect(code(decide(.saveCanned(shortcut: "hi", text: "Hello", scope: .site), anna, nil)) == "forbidden")
        #expect(decide(.deleteCanned(shortcut: "hi", scope: .site), admin, nil) == .allowed)
        for command in [ClientCommand.chats, .queue, .visitors] { #expect(decide(command, anna, nil) == .allowed) }
    }

    @Test func operators_cannotDoWhatOnlyVisitorsDo() {
        for command in [ClientCommand.start(requestID: "r", department: "sales", name: nil, email: nil, question: nil), .leave(conversation: "c1"),
                        .pageView(url: "/", title: nil), .cart(value: 1, items: 1), .rate(conversation: "c1", score: 5, comment: nil)] {
            #expect(code(decide(command, anna, facts())) == "not_supported")
        }
    }
}

@Suite struct RouterErrorMessageTests {
    /// What a person sees of a refusal is a sentence, not a type name (the console toasts it,
    /// the widget shows it under an unsent message).
    @Test func everyRefusal_readsAsASentence() {
        let errors: [RouterError] = [
            .unknownConversation("p3-ab"), .conversationClosed("p3-ab"), .notAssigned("p3-ab", "shop/ben"), .noSuchOffer("p3-ab", "shop/ben"),
            .unknownSite("shop"), .unknownOperator("shop/zed"), .unknownDepartment("toys"),
            .invalidMessage("a message must have 1 to 8192 bytes"), .invalidTransfer("cannot transfer to yourself"),
            .storageFailed("write: EIO"), .notPermitted("only operators list the queue"), .notFound("no canned response /x"),
            .notOwner(partition: 7),
        ]
        for error in errors {
            let message = error.message
            #expect(message.first?.isUppercase == true && message.hasSuffix("."), "\(error.code): \(message)")
            #expect(!message.contains(String(describing: error)), "not the type's own description: \(message)")
        }
        #expect(RouterError.invalidMessage("a message must have 1 to 8192 bytes").message == "A message must have 1 to 8192 bytes.")
    }
}
