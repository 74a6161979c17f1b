import Foundation
import Wire

/// What the service does beyond routing chats: the departments' live availability for
/// widgets, proactive invitations, files in chats, transcripts by e-mail, canned responses.
extension RouterService {
    // MARK: departments' availability

    /// Each department of the site, by id, and whether a chat started now would find an
    /// operator online (the same rule routing uses, so the widget never says "online" when
    /// a chat would become an offline message).
    func availability(of site: SiteID) -> [ServerEvent.Department] {
        let departments = node.core.sites[site]?.departments ?? []
        return departments.sorted { $0.raw < $1.raw }.map { .init(id: $0.raw, online: node.core.anyoneOnline(site: site, skill: $0)) }
    }

    /// Tells the site's watching widgets when the availability changed.
    func refreshAvailability(of site: SiteID) {
        guard let watchers = availabilityWatchers[site], !watchers.isEmpty else { return }
        let now = availability(of: site)
        guard publishedAvailability[site] != now else { return }
        publishedAvailability[site] = now
        let body = ServerEvent.departments(now).json()
        for ref in watchers { try? peers[ref.peer]?.send(.sessionEvent(sessionID: ref.session, body: body)) }
    }

    /// A safety net under the immediate refreshes: status changes the router makes on its
    /// own (a console's reconnect grace running out) are published within a second.
    func scheduleAvailabilitySweep() {
        node.loop.scheduleTimer(at: node.loop.now + Nanos.seconds(1)) { [weak self] in
            guard let self else { return }
            for site in self.availabilityWatchers.keys { self.refreshAvailability(of: site) }
            self.scheduleAvailabilitySweep()
        }
    }

    // MARK: invitations

    /// Sends an invitation to every open widget of `visitor`: the widget shows it, and a
    /// chat starts in `department` (default: the operator's best skill) if they accept.
    func invite(_ visitor: VisitorID, on site: SiteID, by op: OperatorID, department: String?, text: String?, reply: (ServerEvent) -> Void) {
        guard let sessions = sessionsOfVisitor[site]?[visitor], !sessions.isEmpty else {
            return reply(.error(code: "not_found", message: "visitor \(visitor.raw) is not on the site now", requestID: nil))
        }
        guard let profile = node.core.homes[op]?.profile else { return }
        let skill = department.map { Skill($0) } ?? profile.skills.max { ($0.value, $1.key.raw) < ($1.value, $0.key.raw) }?.key
        guard let skill, node.core.sites[site]?.departments.contains(skill) == true else {
            return reply(.error(code: "unknown_department", message: "no department \(department ?? "") on this site", requestID: nil))
        }
        let invitation = ServerEvent.invitation(operatorID: Self.localID(op), operatorName: profile.displayName, department: skill.raw,
                                                text: text ?? "Hello! Can I help you with anything?")
        let body = invitation.json()
        for ref in sessions { try? peers[ref.peer]?.send(.sessionEvent(sessionID: ref.session, body: body)) }
        reply(.accepted(requestID: nil, conversation: nil, sequence: nil))
    }

    // MARK: attachments

    /// Stores the file durably, then records it in the conversation like a message; the
    /// answer carries its sequence number. A retry (same client message id) stores nothing.
    func attach(_ id: ConversationID, author: Author, clientMessageID: String, name: String, contentType: String, data: [UInt8],
                reply: @escaping (ServerEvent) -> Void) {
        if let sequence = node.core.conversation(id)?.clientMessageSequences[clientMessageID] {
            return reply(.accepted(requestID: clientMessageID, conversation: id.raw, sequence: Int64(sequence)))
        }
        let fileID: String
        do {
            fileID = try node.attachments.put(data)
        } catch {
            return reply(.error(code: "storage_failed", message: "the file could not be stored: \(error)", requestID: nil))
        }
        let file = AttachmentFile(id: fileID, name: name, contentType: contentType, size: data.count)
        node.perform({ (core, now, effects) throws(RouterError) in
            try core.sendAttachment(id, author: author, clientMessageID: clientMessageID, file: file, now: now, into: &effects)
        }) { [node] result in
            switch result {
            case .success(let sequence): reply(.accepted(requestID: clientMessageID, conversation: id.raw, sequence: Int64(sequence)))
            case .failure(let error):
                node.attachments.delete([fileID])  // refused: nothing refers to it
                reply(.error(code: error.code, message: "\(error)", requestID: clientMessageID))
            }
        }
    }

    /// Answers `{"type":"attachment","name","contentType","data":<base64>}` if the file
    /// belongs to this conversation (the caller checked who may see the conversation).
    func serveAttachment(_ fileID: String, of conversation: Conversation, reply: ([UInt8]) -> Void, refuse: (ServerEvent) -> Void) {
        let file = conversation.events.lazy.compactMap { event -> AttachmentFile? in
            if case .attachment(let file) = event.kind, file.id == fileID { return file }
            return nil
        }.first
        guard let file, let bytes = node.attachments.get(file.id) else {
            return refuse(.error(code: "not_found", message: "no attachment \(fileID) in this conversation", requestID: nil))
        }
        reply(JSONText.serialize(["type": "attachment", "name": file.name, "contentType": file.contentType, "data": Base64.encode(bytes)]))
    }

    // MARK: transcripts by e-mail

    /// Queues the conversation's transcript so far for `email` in the mail outbox.
    func emailTranscript(_ id: ConversationID, to email: String, reply: (ServerEvent) -> Void) {
        guard let conversation = storedConversation(id) else {
            return reply(.error(code: "unknown_conversation", message: "no conversation \(id.raw)", requestID: nil))
        }
        let text = "Here is the transcript of your chat.\n\n" + TranscriptText.plainText(transcriptObject(conversation))
        do {
            try node.outbox.enqueue(to: email, subject: "Your chat transcript (\(conversation.requirement.skill.raw))", body: text)
            reply(.accepted(requestID: nil, conversation: id.raw, sequence: nil))
        } catch {
            reply(.error(code: "storage_failed", message: "the e-mail could not be queued: \(error)", requestID: nil))
        }
    }

    // MARK: canned responses

    /// `{"type":"canned","items":[{shortcut,text,scope}]}`: the operator's own, then the site's.
    func cannedListing(site: SiteID, operator op: String) -> [UInt8] {
        let items = node.canned.responses.visible(site: site, operator: op).map { entry -> [String: Any] in
            ["shortcut": entry.shortcut, "text": entry.text, "scope": entry.owner == nil ? "site" : "personal"]
        }
        return JSONText.serialize(["type": "canned", "items": items])
    }

    /// Changes the canned responses durably and answers `accepted` or the refusal.
    func updateCanned(reply: (ServerEvent) -> Void, _ change: (inout CannedResponses) throws(RouterError) -> Void) {
        do {
            try node.canned.update(change)
            reply(.accepted(requestID: nil, conversation: nil, sequence: nil))
        } catch {
            reply(.error(code: error.code, message: "\(error)", requestID: nil))
        }
    }
}

extension Conversation {
    /// True when the operator holds this conversation or took part in it.
    func involves(_ op: OperatorID) -> Bool {
        assignedOperator == op || events.contains { $0.author == .operator(op) }
    }
}
