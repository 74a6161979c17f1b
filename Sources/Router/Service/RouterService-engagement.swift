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
        guard let watchers = subscriptions.availabilityWatchers[site], !watchers.isEmpty else { return }
        let now = availability(of: site)
        guard publishedAvailability[site] != now else { return }
        publishedAvailability[site] = now
        for session in watchers { send(.sessionUpdate(sessionID: session.id, event: .departments(now)), on: session.link) }
    }

    /// A safety net under the immediate refreshes: status changes the router makes on its
    /// own (a console's reconnect grace running out) are published within a second.
    func scheduleAvailabilitySweep() {
        node.loop.scheduleTimer(at: node.loop.now + Nanos.seconds(1)) { [weak self] in
            guard let self else { return }
            for site in self.subscriptions.availabilityWatchers.keys { self.refreshAvailability(of: site) }
            self.scheduleAvailabilitySweep()
        }
    }

    // MARK: invitations

    /// Sends an invitation to every open widget of `visitor`: the widget shows it, and a
    /// chat starts in `department` (default: the operator's best skill) if they accept.
    func invite(_ visitor: VisitorID, on site: SiteID, by op: OperatorID, department: String?, text: String?) -> RouterReply {
        guard let sessions = subscriptions.sessionsOfVisitor[site]?[visitor], !sessions.isEmpty else {
            return .event(.error(code: "not_found", message: "Visitor \(visitor.raw) is not on the site now.", requestID: nil))
        }
        guard let profile = node.core.profiles[op] else {
            return .event(.error(code: "unknown_operator", message: "There is no operator \(Self.localID(op)) on this site.", requestID: nil))
        }
        let skill = department.map { Skill($0) } ?? profile.skills.max { ($0.value, $1.key.raw) < ($1.value, $0.key.raw) }?.key
        guard let skill, node.core.sites[site]?.departments.contains(skill) == true else {
            return .event(.error(code: "unknown_department", message: "There is no department \(department ?? "") on this site.", requestID: nil))
        }
        let invitation = ServerEvent.invitation(operatorID: Self.localID(op), operatorName: profile.displayName, department: skill.raw,
                                                text: text ?? "Hello! Can I help you with anything?")
        for session in sessions { send(.sessionUpdate(sessionID: session.id, event: invitation), on: session.link) }
        return .event(.accepted(requestID: nil, conversation: nil, sequence: nil))
    }

    // MARK: attachments

    /// Stores the file durably, then records it in the conversation like a message; the
    /// answer carries its sequence number. A retry (same client message id) stores nothing.
    func attach(_ id: ConversationID, author: Author, clientMessageID: String, name: String, contentType: String, data: [UInt8],
                reply: @escaping (RouterReply) -> Void) {
        if let sequence = node.core.conversation(id)?.clientMessageSequences[clientMessageID] {
            return reply(.event(.accepted(requestID: clientMessageID, conversation: id.raw, sequence: Int64(sequence))))
        }
        let fileID: String
        do {
            fileID = try node.attachments.put(data)
        } catch {
            logger.error("an attachment could not be stored", ["conversation": id.raw, "error": "\(error)"])
            return reply(.event(.error(code: "storage_failed", message: "The file could not be stored; please try again in a moment.", requestID: clientMessageID)))
        }
        let file = AttachmentFile(id: fileID, name: name, contentType: contentType, size: data.count)
        node.execute(.attach(id, author: author, clientMessageID: clientMessageID, file: file)) { [node] result in
            switch result {
            case .success(let outcome):
                reply(.event(.accepted(requestID: clientMessageID, conversation: id.raw, sequence: outcome.sequence.map { Int64($0) })))
            case .failure(let error):
                node.attachments.delete([fileID])  // refused: nothing refers to it
                reply(.event(.error(code: error.code, message: error.message, requestID: clientMessageID)))
            }
        }
    }

    /// The file's bytes if it belongs to this conversation (the caller checked who may see
    /// the conversation).
    func serveAttachment(_ fileID: String, of conversation: Conversation) -> RouterReply {
        let file = conversation.events.lazy.compactMap { event -> AttachmentFile? in
            if case .attachment(let file) = event.kind, file.id == fileID { return file }
            return nil
        }.first
        guard let file, let bytes = node.attachments.get(file.id) else {
            return .event(.error(code: "not_found", message: "There is no attachment \(fileID) in this conversation.", requestID: nil))
        }
        return .file(AttachmentContent(name: file.name, contentType: file.contentType, data: bytes))
    }

    // MARK: transcripts by e-mail

    /// Queues the conversation's transcript so far for `email` in the mail outbox.
    func emailTranscript(_ conversation: Conversation, to email: String, reply: (RouterReply) -> Void) {
        let text = "Here is the transcript of your chat.\n\n" + TranscriptText.plainText(transcript(conversation))
        do {
            try node.outbox.enqueue(to: email, subject: "Your chat transcript (\(conversation.requirement.skill.raw))", body: text)
            reply(.event(.accepted(requestID: nil, conversation: conversation.id.raw, sequence: nil)))
        } catch {
            logger.error("a transcript e-mail could not be queued", ["conversation": conversation.id.raw, "error": "\(error)"])
            reply(.event(.error(code: "storage_failed", message: "The e-mail could not be sent just now; please try again later.", requestID: nil)))
        }
    }

    // MARK: canned responses

    /// Changes the canned responses durably; `accepted` or the refusal.
    func updateCanned(_ change: (inout CannedResponses) throws(RouterError) -> Void) -> RouterReply {
        do {
            try node.canned.update(change)
            return .event(.accepted(requestID: nil, conversation: nil, sequence: nil))
        } catch {
            return .event(.error(code: error.code, message: error.message, requestID: nil))
        }
    }
}
