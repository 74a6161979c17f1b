import Foundation
import Wire

/// The gateway between sessions and the router: commands out, events and replies back to
/// the sessions that wait for or watch them.
extension GatewayApp {
    // MARK: sessions → router

    /// Verifies a hello token (or mints a visitor session); returns the claims or the error.
    func authenticate(token: String?, site: String?) -> Result<(AccessClaims, minted: String?), TokenError> {
        let now = Int64(Date().timeIntervalSince1970)
        if let site {
            guard let secret = configuration.siteSecrets[site] else { return .failure(.invalidClaims) }
            let claims = AccessClaims(sub: "v-" + UUID().uuidString.lowercased(), site: site, role: .visitor,
                                      exp: now + configuration.visitorTokenSeconds, iat: now)
            return .success((claims, AccessToken.sign(claims, secret: secret)))
        }
        guard let token else { return .failure(.malformed) }
        let secrets = configuration.siteSecrets
        return Result { () throws(TokenError) in (try AccessToken.verify(token, secretOf: { secrets[$0] }, now: now), nil) }
    }

    /// Forwards a client's command; the reply goes back to the session.
    func forward(_ command: ClientCommand, from session: ClientSession, principal: Principal, watchReply: Bool) {
        guard let peer = routerPeer else {
            session.send(.error(code: "unavailable", message: "The router is not reachable; retry shortly.", requestID: nil))
            return
        }
        nextCorrelation &+= 1
        pending[nextCorrelation] = .session(session.id, watch: watchReply)
        send(.command(sessionID: session.id, principal: principal, command: command), correlationID: nextCorrelation, on: peer)
        metrics.add("commands_forwarded_total")
    }

    func registerOperator(_ op: String, session: UInt64) {
        operatorSessions[op, default: []].insert(session)
        watchedBySession[session, default: ([], [])].operators.insert(op)
    }

    /// A visitor's session hears one conversation: the one it started or resumed last (the
    /// widget shows one). Without this, a widget left open all day kept an entry for every
    /// chat it ever had.
    func watch(conversation: String, session: UInt64) {
        for old in watchedBySession[session]?.conversations ?? [] where old != conversation {
            conversationSessions[old]?.remove(session)
            if conversationSessions[old]?.isEmpty == true { conversationSessions[old] = nil }
            watchedBySession[session]?.conversations.remove(old)
        }
        conversationSessions[conversation, default: []].insert(session)
        watchedBySession[session, default: ([], [])].conversations.insert(conversation)
    }

    func sessionClosed(_ session: ClientSession) {
        sessions[session.id] = nil
        let watched = watchedBySession.removeValue(forKey: session.id)
        for key in watched?.conversations ?? [] {
            conversationSessions[key]?.remove(session.id)
            if conversationSessions[key]?.isEmpty == true { conversationSessions[key] = nil }
        }
        for key in watched?.operators ?? [] {
            operatorSessions[key]?.remove(session.id)
            if operatorSessions[key]?.isEmpty == true { operatorSessions[key] = nil }
        }
        if let routerPeer { send(.sessionClosed(sessionID: session.id), on: routerPeer) }
    }

    // MARK: router → sessions

    /// A new link to the router. Sessions older than it were registered with a router
    /// process that is gone (or with none, while the link was down): the router has no
    /// subscription, no operator connection and no visitor session for them, so they would
    /// stay open and hear nothing. They are closed with 1012 (service restart); the widget
    /// and the console reconnect, say hello again and resume each chat from the last
    /// sequence number they showed, so nothing is lost and nothing is shown twice.
    func peerDidEstablish(_ peer: WirePeer) {
        routerPeer = peer
        let stale = sessions.values.filter(\.isAuthenticated)
        for session in stale { session.closeForResume() }
        metrics.add("sessions_closed_for_resume_total", stale.count)
    }

    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        let message: WireMessage
        do {
            message = try WireMessage.decode(type: header.type, payload: payload)
        } catch {
            metrics.add("router_messages_undecodable_total")
            logger.warning("an undecodable message from the router was dropped", ["type": "\(header.type)", "error": "\(error)"])
            return
        }
        switch message {
        case .commandReply(let reply):
            switch pending.removeValue(forKey: header.correlationID) {
            case .session(let sessionID, let watch)?:
                guard let session = sessions[sessionID] else { return }
                if watch, case .event(.accepted(_, let conversation?, _)) = reply {
                    self.watch(conversation: conversation, session: sessionID)
                }
                session.sendRaw(reply.json())
            case .http(let connection, let format)?:
                connection.respond(Self.httpResponse(reply, format: format))
            case nil:
                break
            }
        case .conversationUpdate(let conversation, _, let event):
            deliver(event, to: conversationSessions[conversation])
        case .operatorUpdate(let op, let event):
            deliver(event, to: operatorSessions[op])
        case .sessionUpdate(let sessionID, let event):
            deliver(event, to: [sessionID])
        case .partitionTable(let notice):
            // Pushed on connect and on every change; a late copy of an older one changes nothing.
            if let table, notice.version < table.version { return }
            table = notice
            metrics.add("partition_tables_received_total")
        default:
            logger.warning("an unexpected message from the router was dropped", ["type": "\(message.type)"])
        }
    }

    /// Writes the event as JSON once and sends it to each session.
    func deliver(_ event: ServerEvent, to sessionIDs: Set<UInt64>?) {
        guard let sessionIDs, !sessionIDs.isEmpty else { return }
        let json = eventJSON(event)
        for id in sessionIDs { sessions[id]?.sendRaw(json) }
        metrics.add("events_delivered_total")
    }

    func eventJSON(_ event: ServerEvent) -> [UInt8] {
        guard case .event(let conversation, let sequence, _, _, _, _, _) = event else { return event.json() }
        if let last = lastEventJSON, last.sequence == sequence, last.conversation == conversation { return last.json }
        let json = event.json()
        lastEventJSON = (conversation, sequence, json)
        return json
    }

    func peerWritabilityChanged(_ peer: WirePeer) {}

    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {
        routerPeer = nil
        // Commands in flight will get no reply: tell their senders, who may retry safely.
        for waiter in pending.values {
            switch waiter {
            case .session(let sessionID, _):
                sessions[sessionID]?.send(.error(code: "unavailable", message: "the router link dropped; retry", requestID: nil))
            case .http(let connection, _):
                connection.respond(.text(503, "the router link dropped; retry"))
            }
        }
        pending.removeAll()
    }
}
