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
        guard routers.isLinked else {
            session.send(.error(code: "unavailable", message: "The service is not reachable right now; please try again shortly.", requestID: nil))
            return
        }
        dispatch(command, sessionID: session.id, principal: principal, waiter: .session(session.id, watch: watchReply))
        metrics.add("commands_forwarded_total")
    }

    /// Sends a command where it is served: the owner of its partition, or every router for
    /// a listing (answered once all have). Before the table is known, the configured router
    /// takes everything (a router alone owns every partition).
    func dispatch(_ command: ClientCommand, sessionID: UInt64, principal: Principal, waiter: Waiter) {
        let route = routers.partitionCount.map { command.route(for: principal, partitionCount: $0) } ?? .anyRouter
        let message = WireMessage.command(sessionID: sessionID, principal: principal, command: command)
        if case .typing = command { return sendUnanswered(message, route: route) }
        if case .read = command { return sendUnanswered(message, route: route) }
        guard route == .everyRouter else { return send(message, route: route, waiter: waiter) }
        nextGather &+= 1
        var gather = Gather(waiter: waiter)
        for (router, peer) in routers.owners() {
            guard let peer else {
                gather.unavailable.append(router)
                continue
            }
            gather.outstanding += 1
            nextCorrelation &+= 1
            pending[nextCorrelation] = Pending(waiter: .part(gather: nextGather, router: router), message: message, route: route, link: ObjectIdentifier(peer))
            send(message, correlationID: nextCorrelation, on: peer)
        }
        gathers[nextGather] = gather
        finishIfComplete(nextGather)
    }

    /// Typing and read receipts: the router answers nothing, so nothing waits (one entry
    /// per keystroke would pile up), and one lost with a link is not worth a retry.
    private func sendUnanswered(_ message: WireMessage, route: CommandRoute) {
        guard let peer = routers.peer(for: route).peer else { return }
        send(message, correlationID: 0, on: peer)
    }

    /// Sends to the router serving `route`; with none reachable, the waiter hears so now.
    private func send(_ message: WireMessage, route: CommandRoute, waiter: Waiter, redirects: Int = 0) {
        guard let peer = routers.peer(for: route).peer else {
            return answer(waiter, .event(.error(code: "unavailable", message: "Part of the service is not reachable right now; please try again shortly.",
                                                requestID: nil)))
        }
        nextCorrelation &+= 1
        pending[nextCorrelation] = Pending(waiter: waiter, message: message, route: route, link: ObjectIdentifier(peer), redirects: redirects)
        send(message, correlationID: nextCorrelation, on: peer)
    }

    /// A router's answer to a waiter.
    func answer(_ waiter: Waiter, _ reply: RouterReply) {
        switch waiter {
        case .session(let sessionID, let watch):
            guard let session = sessions[sessionID] else { return }
            if watch, case .event(.accepted(_, let conversation?, _)) = reply {
                self.watch(conversation: conversation, session: sessionID)
            }
            session.sendRaw(reply.json())
        case .http(let connection, let format):
            connection.respond(Self.httpResponse(reply, format: format))
        case .part(let id, let router):
            guard gathers[id] != nil else { return }
            gathers[id]!.outstanding -= 1
            if reply.errorCode == "unavailable" { gathers[id]!.unavailable.append(router) } else { gathers[id]!.replies.append(reply) }
            finishIfComplete(id)
        }
    }

    /// Answers a gathered listing once every router it asked has answered (or dropped).
    private func finishIfComplete(_ id: UInt32) {
        guard let gather = gathers[id], gather.outstanding == 0 else { return }
        gathers[id] = nil
        guard let merged = ListingMerge.merge(gather.replies) else {
            return answer(gather.waiter, .event(.error(code: "unavailable", message: "No server could answer right now; please try again shortly.",
                                                       requestID: nil)))
        }
        let json = ListingMerge.json(merged, unavailable: gather.unavailable)
        switch gather.waiter {
        case .session(let sessionID, _): sessions[sessionID]?.sendRaw(json)
        case .http(let connection, _):
            connection.respond(merged.errorCode == nil ? .json(200, json) : Self.httpResponse(merged, format: .json))
        case .part: break  // a gather is never part of another
        }
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
        // Whichever routers registered the session (its visitor's, its operator's home) forget it.
        for peer in routers.peers { send(.sessionClosed(sessionID: session.id), on: peer) }
    }

    // MARK: router → sessions

    /// A new link to the router. Sessions older than it were registered with a router
    /// process that is gone (or with none, while the link was down): the router has no
    /// subscription, no operator connection and no visitor session for them, so they would
    /// stay open and hear nothing. They are closed with 1012 (service restart); the widget
    /// and the console reconnect, say hello again and resume each chat from the last
    /// sequence number they showed, so nothing is lost and nothing is shown twice.
    ///
    /// With several routers, only the first link of all, and a link that was up before and
    /// came back (its router restarted or the network dropped it), do this: a router linked
    /// for the first time while others are up has no sessions of this gateway to lose.
    func peerDidEstablish(_ peer: WirePeer) {
        guard routers.established(peer) else { return }
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
            guard let waiting = pending.removeValue(forKey: header.correlationID) else { return }
            answer(waiting.waiter, reply)
        case .redirect(let partition, let node, let address):
            // The table here was behind: believe the router, and send the same command there
            // (same client message id, so a retry is never a second message).
            guard let waiting = pending.removeValue(forKey: header.correlationID) else { return }
            metrics.add("redirects_followed_total")
            routers.learn(redirect: Int(partition), node: node, address: address)
            guard waiting.redirects < 3 else {
                return answer(waiting.waiter, .event(.error(code: "unavailable", message: "The service is reorganising; please try again in a moment.",
                                                            requestID: nil)))
            }
            send(waiting.message, route: waiting.route, waiter: waiting.waiter, redirects: waiting.redirects + 1)
        case .conversationUpdate(let conversation, _, let event):
            deliver(event, to: conversationSessions[conversation])
        case .operatorUpdate(let op, let event):
            deliver(event, to: operatorSessions[op])
        case .sessionUpdate(let sessionID, let event):
            deliver(event, to: [sessionID])
        case .partitionTable(let notice):
            // Pushed on connect and on every change; a late copy of an older one changes nothing.
            if routers.learn(notice) { metrics.add("partition_tables_received_total") }
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
        // Commands in flight on this link will get no reply: tell their senders, who may retry safely.
        let link = ObjectIdentifier(peer)
        let lost = pending.filter { $0.value.link == link }
        for (correlation, waiting) in lost.sorted(by: { $0.key < $1.key }) {
            pending[correlation] = nil
            answer(waiting.waiter, .event(.error(code: "unavailable", message: "The connection to the service dropped; please try again.", requestID: nil)))
        }
    }
}
