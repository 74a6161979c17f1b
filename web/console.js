/*
 * Switchboard operator console: one WebSocket to the gateway (docs/client-protocol.md).
 * Offers arrive with a countdown; accepted chats open as tabs (unread counts, title and
 * sound on news); canned responses insert with /shortcut; the visitor panel shows who the
 * visitor is, where they are and what is in their cart. A dropped link reconnects and
 * resumes every chat from the last sequence number shown.
 */
(function () {
  'use strict';
  const $ = (selector, root = document) => root.querySelector(selector);
  const wsURL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  const session = JSON.parse(sessionStorage.getItem('switchboard-console') || 'null');

  let socket = null, me = null, retryDelay = 500, selected = null, canned = [], departments = [], visitors = [];
  const chats = new Map();     // conversation -> chat state
  const offers = new Map();    // conversation -> {department, visitorName, expiresAt, el}
  const pending = new Map();   // clientMessageId -> {chat, el}
  const accepting = new Set(); // conversations we sent `accept` for

  // ---- login ----
  $('#login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    const response = await fetch('/api/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ site: form.site.value, operator: form.operator.value, password: form.password.value }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) { $('#login-error').textContent = answer.message || `login failed (${response.status})`; return; }
    sessionStorage.setItem('switchboard-console', JSON.stringify({ token: answer.token, operator: form.operator.value, status: 'online' }));
    location.reload();
  });
  $('#logout').addEventListener('click', () => {
    send({ type: 'status', status: 'offline' });
    sessionStorage.removeItem('switchboard-console');
    setTimeout(() => location.reload(), 200);
  });
  if (!session) return;
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#status').value = session.status || 'online';
  $('#status').addEventListener('change', () => {
    session.status = $('#status').value;
    sessionStorage.setItem('switchboard-console', JSON.stringify(session));
    send({ type: 'status', status: session.status });
  });

  // ---- helpers ----
  function send(message) { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message)); }
  function id() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }
  function time(ms) { return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); }
  function toast(text) {
    const el = $('#toast');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, 5000);
  }
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    for (const child of children) node.append(child);
    return node;
  }
  let audio = null;
  function beep() {
    try {
      audio = audio || new AudioContext();
      const oscillator = audio.createOscillator(), gain = audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.value = 0.08;
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + 0.15);
    } catch (error) { /* no sound available: the title still shows the news */ }
  }
  function updateTitle() {
    const unread = [...chats.values()].reduce((sum, c) => sum + c.unread, 0) + offers.size;
    document.title = (unread ? `(${unread}) ` : '') + 'Switchboard console';
  }

  // ---- offers ----
  function addOffer(m) {
    if (offers.has(m.conversation)) return;
    const countdown = el('span', { className: 'countdown' });
    const item = el('li', { className: 'offer' },
      el('strong', { textContent: `${m.visitorName || 'A visitor'} · ${m.department}` }), countdown,
      el('div', { className: 'row' },
        el('button', { type: 'button', textContent: 'Accept', onclick: () => { accepting.add(m.conversation); send({ type: 'accept', conversation: m.conversation }); } }),
        el('button', { type: 'button', className: 'plain', textContent: 'Decline', onclick: () => send({ type: 'decline', conversation: m.conversation }) })));
    item.dataset.conversation = m.conversation;
    $('#offers').append(item);
    if (m.queuedAt && m.time) item.append(el('span', { className: 'hint', textContent: `waited ${Math.round((m.time - m.queuedAt) / 1000)} s in the queue` }));
    offers.set(m.conversation, { expiresAt: Date.now() + m.expiresInSeconds * 1000, el: item, countdown,
                                 summary: { department: m.department, visitor: m.visitor, visitorProfile: m.visitorName ? { name: m.visitorName } : {} } });
    tickOffers();
    beep();
    updateTitle();
  }
  function removeOffer(conversation) {
    const offer = offers.get(conversation);
    if (offer) { offer.el.remove(); offers.delete(conversation); }
    $('#no-offers').hidden = offers.size > 0;
    updateTitle();
  }
  function tickOffers() {
    for (const offer of offers.values()) offer.countdown.textContent = `${Math.max(0, Math.ceil((offer.expiresAt - Date.now()) / 1000))} s to accept`;
    $('#no-offers').hidden = offers.size > 0;
  }
  setInterval(tickOffers, 250);

  // ---- chats ----
  function openChat(conversation, summary) {
    let chat = chats.get(conversation);
    if (chat) { if (summary) chat.summary = summary; return chat; }
    const panel = $('#chat-template').content.firstElementChild.cloneNode(true);
    const tab = el('button', { type: 'button', role: 'tab', id: 'tab-' + conversation });
    tab.setAttribute('aria-controls', 'chat-' + conversation);
    panel.id = 'chat-' + conversation;
    panel.setAttribute('aria-labelledby', tab.id);
    chat = { conversation, summary: summary || {}, panel, tab, shown: new Map(), lastSeen: 0, unread: 0, ended: false };
    chats.set(conversation, chat);
    tab.addEventListener('click', () => select(conversation));
    $('#tabs').append(tab);
    $('#chats').append(panel);
    wireChat(chat);
    renderTab(chat);
    if (!selected) select(conversation);
    return chat;
  }
  function visitorName(chat) { return (chat.summary.visitorProfile || {}).name || 'Visitor'; }
  function renderTab(chat) {
    chat.tab.textContent = '';
    chat.tab.append(el('span', { className: chat.ended ? 'ended' : '', textContent: `${visitorName(chat)} · ${chat.summary.department || ''}` }));
    if (chat.unread) chat.tab.append(el('span', { className: 'unread', textContent: String(chat.unread), title: `${chat.unread} unread` }));
    updateTitle();
  }
  function select(conversation) {
    selected = conversation;
    for (const chat of chats.values()) {
      const on = chat.conversation === conversation;
      chat.panel.hidden = !on;
      chat.tab.setAttribute('aria-selected', String(on));
      if (on) { chat.unread = 0; renderTab(chat); markRead(chat); $('.text', chat.panel).focus(); }
    }
    $('#nochat').hidden = chats.size > 0;
    renderVisitorPanel();
  }
  function markRead(chat) {
    if (chat.lastSeen > (chat.readSent || 0) && !chat.ended) { chat.readSent = chat.lastSeen; send({ type: 'read', conversation: chat.conversation, sequence: chat.lastSeen }); }
  }
  function bubble(chat, kind, body, meta) {
    const node = el('div', { className: 'msg ' + kind }, body, el('span', { className: 'meta', textContent: meta }));
    const log = $('.log', chat.panel);
    log.append(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }
  function onEvent(m) {
    // An offered chat's first message opens its tab already: named after what the offer said.
    let chat = chats.get(m.conversation);
    if (!chat) {
      const offered = offers.get(m.conversation);
      chat = openChat(m.conversation, offered && offered.summary);
      renderTab(chat);
    }
    chat.lastSeen = Math.max(chat.lastSeen, m.sequence);
    if (chat.shown.has(m.sequence)) return;  // replayed after a reconnect
    const kind = m.author.kind;
    const who = kind === 'visitor' ? visitorName(chat) : kind === 'operator' ? (m.author.name || m.author.id) : '';
    if (kind === 'operator' && m.author.id === me.id && m.author.name) me.name = m.author.name;
    const body = m.type === 'attachment' ? attachmentView(m) : m.text;
    const node = bubble(chat, m.type === 'notice' ? 'system' : kind, body, who ? `${who} · ${time(m.time)}` : time(m.time));
    chat.shown.set(m.sequence, node);
    if (kind === 'visitor') {
      if (selected === chat.conversation && !document.hidden) markRead(chat);
      else { chat.unread += 1; renderTab(chat); beep(); }
    }
  }
  function attachmentView(m) {
    const a = m.attachment;
    const wrap = el('span');
    const link = el('a', { href: '#', textContent: `${a.name} (${Math.ceil(a.size / 1024)} KiB)` });
    wrap.append(link);
    fetch(`/api/attachments/${encodeURIComponent(m.conversation)}/${a.id}`, { headers: { Authorization: 'Bearer ' + session.token } })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        link.href = url;
        link.download = a.name;
        if (a.contentType.startsWith('image/')) wrap.prepend(el('img', { src: url, alt: a.name }));
      })
      .catch(() => { link.textContent += ' (could not load)'; });
    return wrap;
  }
  function chatEnded(conversation, why) {
    const chat = chats.get(conversation);
    if (!chat || chat.ended) return;
    chat.ended = true;
    bubble(chat, 'system', why, '');
    for (const control of chat.panel.querySelectorAll('.composer *, .actions *')) control.disabled = true;
    const close = el('button', { type: 'button', className: 'plain', textContent: 'Close tab', onclick: () => closeChat(conversation) });
    $('.actions', chat.panel).append(close);
    close.disabled = false;
    renderTab(chat);
  }
  function closeChat(conversation) {
    const chat = chats.get(conversation);
    chat.tab.remove();
    chat.panel.remove();
    chats.delete(conversation);
    if (selected === conversation) { selected = null; const next = chats.keys().next(); if (!next.done) select(next.value); else select(null); }
  }

  function fillCanned(text, chat) {
    return text.replaceAll('{visitor}', visitorName(chat) === 'Visitor' ? 'there' : visitorName(chat)).replaceAll('{operator}', me.name || me.id);
  }
  function wireChat(chat) {
    const text = $('.text', chat.panel), suggestions = $('.canned-suggestions', chat.panel);
    let matches = [], active = 0, typingSent = false, typingTimer = null;
    function sendText() {
      const value = text.value.trim();
      if (!value || chat.ended) return;
      text.value = '';
      suggestions.hidden = true;
      const clientMessageId = id();
      const node = bubble(chat, 'operator', value, 'sending…');
      pending.set(clientMessageId, { chat, el: node, text: value });
      send({ type: 'send', conversation: chat.conversation, clientMessageId, text: value });
      if (typingSent) { typingSent = false; send({ type: 'typing', conversation: chat.conversation, typing: false }); }
    }
    function renderSuggestions() {
      const query = text.value.startsWith('/') && !text.value.includes(' ') ? text.value.slice(1).toLowerCase() : null;
      matches = query === null ? [] : canned.filter((c) => c.shortcut.toLowerCase().startsWith(query));
      suggestions.hidden = matches.length === 0;
      suggestions.textContent = '';
      active = Math.min(active, Math.max(0, matches.length - 1));
      matches.forEach((c, index) => {
        const item = el('li', { role: 'option', textContent: `/${c.shortcut} — ${c.text.slice(0, 80)}${c.scope === 'personal' ? ' (yours)' : ''}` });
        item.setAttribute('aria-selected', String(index === active));
        item.addEventListener('mousedown', (e) => { e.preventDefault(); insert(c); });
        suggestions.append(item);
      });
    }
    function insert(c) {
      text.value = fillCanned(c.text, chat);
      suggestions.hidden = true;
      text.focus();
    }
    text.addEventListener('input', () => {
      renderSuggestions();
      if (!typingSent && !chat.ended) { typingSent = true; send({ type: 'typing', conversation: chat.conversation, typing: true }); }
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { if (typingSent) { typingSent = false; send({ type: 'typing', conversation: chat.conversation, typing: false }); } }, 3000);
    });
    text.addEventListener('keydown', (e) => {
      if (!suggestions.hidden && matches.length) {
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); active = (active + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length; renderSuggestions(); return; }
        if (e.key === 'Tab' || e.key === 'Enter') { e.preventDefault(); insert(matches[active]); return; }
        if (e.key === 'Escape') { suggestions.hidden = true; return; }
      }
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); sendText(); }
    });
    $('.send', chat.panel).addEventListener('click', sendText);
    $('.attach', chat.panel).addEventListener('click', () => $('.file', chat.panel).click());
    $('.file', chat.panel).addEventListener('change', async (e) => {
      const file = e.target.files[0];
      e.target.value = '';
      if (!file) return;
      const response = await fetch(`/api/attachments/${encodeURIComponent(chat.conversation)}`, {
        method: 'POST', body: file,
        headers: { Authorization: 'Bearer ' + session.token, 'Content-Type': file.type || 'application/octet-stream', 'X-File-Name': encodeURIComponent(file.name), 'X-Client-Message-Id': id() },
      }).catch(() => null);
      if (!response || !response.ok) toast(`${file.name} was not sent: ${response ? (await response.json()).message : 'network error'}`);
    });
    $('.navigate', chat.panel).addEventListener('click', () => {
      const url = $('.nav-url', chat.panel).value.trim();
      if (url) send({ type: 'navigate', conversation: chat.conversation, url });
    });
    $('.transfer', chat.panel).addEventListener('click', () => {
      const target = $('.transfer-target', chat.panel).value;
      if (!target) return;
      const message = { type: 'transfer', conversation: chat.conversation };
      if (target.startsWith('department:')) message.toDepartment = target.slice(11); else message.toOperator = target.slice(9);
      const note = $('.transfer-note', chat.panel).value.trim();
      if (note) message.note = note;
      send(message);
    });
    $('.end', chat.panel).addEventListener('click', () => { if (confirm('End this chat?')) send({ type: 'end', conversation: chat.conversation }); });
    renderTransferTargets(chat);
  }
  function renderTransferTargets(chat) {
    const select = $('.transfer-target', chat.panel);
    select.textContent = '';
    select.append(el('option', { value: '', textContent: 'choose…' }));
    for (const d of departments) select.append(el('option', { value: 'department:' + d.id, textContent: `${d.id} department${d.online ? '' : ' (nobody online)'}` }));
    for (const op of operators) if (op.id !== me.id) select.append(el('option', { value: 'operator:' + op.id, textContent: `${op.name} (${op.status})` }));
  }
  let operators = [];

  // ---- visitor panel ----
  function renderVisitorPanel() {
    const box = $('#visitor-info');
    const chat = selected && chats.get(selected);
    if (!chat) { box.className = 'empty'; box.textContent = 'Select a chat.'; return; }
    box.className = '';
    box.textContent = '';
    const profile = chat.summary.visitorProfile || {};
    const live = visitors.find((v) => v.visitor === chat.summary.visitor) || {};
    const dl = el('dl');
    const row = (term, value) => { if (value !== undefined && value !== null && value !== '') dl.append(el('dt', { textContent: term }), el('dd', { textContent: String(value) })); };
    row('Name', profile.name);
    row('E-mail', profile.email);
    row('Customer', profile.customerId);
    row('Order', profile.order);
    row('Department', chat.summary.department);
    row('Online', live.online === undefined ? undefined : live.online ? 'yes' : 'no');
    row('Current page', live.title ? `${live.title} (${live.page})` : live.page);
    row('Cart', live.cartValue === undefined ? undefined : `€${Number(live.cartValue).toFixed(2)}, ${live.cartItems} item(s)`);
    box.append(dl);
    if (live.history && live.history.length) {
      box.append(el('h2', { textContent: 'Pages this visit' }));
      const list = el('ol', { className: 'pages' });
      for (const page of live.history) list.append(el('li', { textContent: `${time(page.time)} ${page.title || page.url}` }));
      box.append(list);
    }
    box.append(el('h2', { textContent: 'Previous conversations' }));
    const previous = live.previousConversations || [];
    if (!previous.length) box.append(el('p', { className: 'empty', textContent: 'None.' }));
    for (const p of previous) box.append(el('p', { textContent: `${p.department}, ${p.state}${p.rating ? `, rated ${p.rating}/5` : ''}` }));
  }

  // ---- live lists ----
  function renderQueue(items) {
    const list = $('#queue');
    list.textContent = '';
    if (!items.length) list.append(el('li', { className: 'empty', textContent: 'Nobody is waiting.' }));
    for (const q of items) {
      list.append(el('li', {}, el('span', { textContent: `#${q.position} · ${q.department} · ${(q.visitorProfile || {}).name || 'visitor'}` }),
        el('span', { className: 'hint', textContent: `waiting ${q.waitingSeconds} s` })));
    }
  }
  let shownVisitors = '';
  function renderVisitors(items) {
    visitors = items;
    const list = $('#visitors');
    const online = items.filter((v) => v.online);
    // The list is polled every 3 s: rebuilt only when what it shows changed, so that an
    // "Invite" button is not replaced under the operator's click (the click was lost).
    const shown = JSON.stringify(online.map((v) => [v.visitor, v.title, v.page, v.pages, v.cartValue, v.conversation]));
    if (shown === shownVisitors) { renderVisitorPanel(); return; }
    shownVisitors = shown;
    list.textContent = '';
    if (!online.length) list.append(el('li', { className: 'empty', textContent: 'No visitors right now.' }));
    for (const v of online) {
      const item = el('li', {},
        el('strong', { textContent: v.title || v.page || v.visitor }),
        el('span', { className: 'hint', textContent: `${v.pages} page(s)${v.cartValue !== undefined ? ` · cart €${Number(v.cartValue).toFixed(2)}` : ''}${v.conversation ? ' · in a chat' : ''}` }));
      item.dataset.visitor = v.visitor;
      if (!v.conversation) item.append(el('button', { type: 'button', className: 'plain invite', textContent: 'Invite to chat', onclick: () => send({ type: 'invite', visitor: v.visitor }) }));
      list.append(item);
    }
    renderVisitorPanel();
  }
  function renderCanned() {
    const list = $('#canned');
    list.textContent = '';
    for (const c of canned) {
      const item = el('li', {}, el('strong', { textContent: `/${c.shortcut}` }), el('span', { textContent: c.text }));
      if (c.scope === 'personal') {
        item.append(el('button', { type: 'button', className: 'plain', textContent: 'Delete', onclick: () => {
          send({ type: 'deleteCanned', shortcut: c.shortcut, scope: 'personal' });
          send({ type: 'canned' });
        } }));
      } else {
        item.append(el('span', { className: 'hint', textContent: 'site-wide' }));
      }
      list.append(item);
    }
  }
  $('#canned-form').addEventListener('submit', (e) => {
    e.preventDefault();
    send({ type: 'saveCanned', shortcut: e.target.shortcut.value, text: e.target.text.value, scope: 'personal' });
    send({ type: 'canned' });  // answered after the save: commands on one socket run in order
    e.target.reset();
  });

  function poll() { send({ type: 'queue' }); send({ type: 'visitors' }); }
  setInterval(poll, 3000);

  // ---- server messages ----
  function onMessage(m) {
    switch (m.type) {
      case 'welcome':
        me = { id: m.id, role: m.role, name: m.id.charAt(0).toUpperCase() + m.id.slice(1) };
        $('#me').textContent = `${me.name} (${m.role}) · ${m.site}`;
        $('#link').textContent = 'connected';
        retryDelay = 500;
        send({ type: 'status', status: $('#status').value });
        send({ type: 'chats' });
        send({ type: 'canned' });
        send({ type: 'departments' });
        if (m.role === 'admin') send({ type: 'operators' });
        for (const [clientMessageId, p] of pending) send({ type: 'send', conversation: p.chat.conversation, clientMessageId, text: p.text });
        poll();
        break;
      case 'chats':
        for (const item of m.items) {
          if (item.state === 'offered') { if (!offers.has(item.conversation)) addOffer({ conversation: item.conversation, department: item.department, visitorName: (item.visitorProfile || {}).name, expiresInSeconds: 10 }); continue; }
          const chat = openChat(item.conversation, item);
          renderTab(chat);
          send({ type: 'resume', conversation: item.conversation, after: chat.lastSeen });
        }
        renderVisitorPanel();
        break;
      case 'canned': canned = m.items; renderCanned(); break;
      case 'departments': departments = m.items; for (const chat of chats.values()) renderTransferTargets(chat); break;
      case 'operators': operators = m.items; for (const chat of chats.values()) renderTransferTargets(chat); break;
      case 'queue': renderQueue(m.items); break;
      case 'visitors': renderVisitors(m.items); break;
      case 'offer': addOffer(m); break;
      case 'offerWithdrawn': removeOffer(m.conversation); break;
      case 'accepted':
        if (m.requestId && pending.has(m.requestId)) {
          const p = pending.get(m.requestId);
          pending.delete(m.requestId);
          p.el.querySelector('.meta').textContent = `${me.name} · ${time(Date.now())}`;
          p.chat.shown.set(m.sequence, p.el);
        } else if (m.conversation && accepting.has(m.conversation)) {
          accepting.delete(m.conversation);
          // What the offer said (visitor, department) names the tab until the chat's details arrive.
          const offered = offers.get(m.conversation);
          removeOffer(m.conversation);
          renderTab(openChat(m.conversation, offered && offered.summary));
          select(m.conversation);
          renderVisitorPanel();
          send({ type: 'chats' });  // the chat's details (visitor, profile) for the tab and the panel
        }
        break;
      case 'message': case 'notice': case 'attachment': onEvent(m); break;
      case 'typing': { const chat = chats.get(m.conversation); if (chat) $('.typing', chat.panel).textContent = m.typing ? `${visitorName(chat)} is typing…` : ''; break; }
      case 'read': break;
      case 'ended': removeOffer(m.conversation); chatEnded(m.conversation, 'The chat has ended.'); break;
      case 'transferred': chatEnded(m.conversation, 'Transferred.'); break;
      case 'statusChanged': $('#status').value = m.status; toast(`Your status is now ${m.status}: ${m.reason}`); break;
      case 'error':
        if (m.requestId && pending.has(m.requestId)) { pending.get(m.requestId).el.querySelector('.meta').textContent = 'not sent: ' + m.message; pending.delete(m.requestId); }
        else if (m.code === 'unauthorized') { sessionStorage.removeItem('switchboard-console'); location.reload(); }
        else toast(m.message);
        break;
    }
  }

  function connect() {
    socket = new WebSocket(wsURL);
    socket.onopen = () => send({ type: 'hello', token: session.token });
    socket.onmessage = (e) => onMessage(JSON.parse(e.data));
    socket.onclose = (e) => {
      $('#link').textContent = 'reconnecting…';
      // Jitter (half to one and a half times the backoff; after a restart notice, 1012,
      // a few seconds more), so that consoles do not all reconnect in the same instant.
      const jittered = retryDelay / 2 + Math.random() * retryDelay;
      setTimeout(connect, e.code === 1012 ? jittered + Math.random() * 3000 : jittered);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }
  document.addEventListener('visibilitychange', () => { const chat = selected && chats.get(selected); if (chat && !document.hidden) markRead(chat); });
  connect();
})();
