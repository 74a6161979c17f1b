/*
 * Switchboard chat widget. Put on any page of the shop:
 *   <script src="https://chat.example.com/widget.js" data-site="shop" async></script>
 * and report the cart with Switchboard.track('cart', {value: 59.9, items: 2}).
 *
 * It lives in a Shadow DOM (the shop's CSS cannot reach it), speaks the client protocol
 * (docs/client-protocol.md) over one WebSocket to the gateway it was loaded from, and
 * keeps its session in localStorage, so a reload or a dropped network resumes the same
 * conversation from the last sequence number shown: nothing twice, nothing missing.
 */
(function () {
  'use strict';
  if (window.Switchboard && window.Switchboard.version) return;  // loaded twice

  const script = document.currentScript || document.querySelector('script[data-site][src*="widget.js"]');
  const site = (script && script.dataset.site) || 'shop';
  const base = new URL(script ? script.src : location.href, location.href);
  const httpBase = base.origin;
  const wsURL = (base.protocol === 'https:' ? 'wss://' : 'ws://') + base.host + '/ws';
  const storeKey = 'switchboard:' + site;
  const labels = { sales: 'Sales', billing: 'Billing', support: 'Technical support' };
  const label = (id) => labels[id] || id.charAt(0).toUpperCase() + id.slice(1);

  // ---- persistent state (survives reloads) ----
  const saved = JSON.parse(localStorage.getItem(storeKey) || '{}');
  const state = {
    token: saved.token || null,
    conversation: saved.conversation || null,
    ended: !!saved.ended,
    name: saved.name || '', email: saved.email || '',
    open: !!saved.open,
  };
  function persist() {
    localStorage.setItem(storeKey, JSON.stringify({
      token: state.token, conversation: state.conversation, ended: state.ended,
      name: state.name, email: state.email, open: state.open,
    }));
  }

  // ---- live state (this page only) ----
  let socket = null, ready = false, retryDelay = 500, lastSeen = 0;
  const shown = new Map();        // sequence -> bubble element
  const pending = new Map();      // clientMessageId -> {text, bubble}
  const queuedTracks = [];        // track() calls made before the socket was ready
  let departments = [], operatorName = '', lastReadSent = 0, typingTimer = null, typingSent = false;
  let pendingStart = null;        // the `start` sent and not yet answered (sent again on reconnect)

  // ---- DOM ----
  const host = document.createElement('div');
  host.id = 'switchboard-widget';
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `
<style>
  :host { all: initial; }
  * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 28px;
    background: #0b57d0; color: #fff; padding: 14px 20px; font-size: 16px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
  .launcher:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 3px solid #f9ab00; outline-offset: 2px; }
  .dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 8px; background: #9aa0a6; }
  .dot.on { background: #34d058; }
  .panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483000; width: 360px; height: 540px; max-height: calc(100vh - 104px);
    background: #fff; color: #1f1f1f; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.3); display: flex; flex-direction: column; overflow: hidden; font-size: 14px; }
  .panel[hidden] { display: none; }
  header { background: #0b57d0; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
  header h2 { font-size: 16px; margin: 0; flex: 1; }
  header button { background: transparent; border: 0; color: #fff; font-size: 20px; cursor: pointer; padding: 2px 8px; }
  .view { flex: 1; display: flex; flex-direction: column; overflow: auto; padding: 14px; gap: 10px; }
  .view[hidden] { display: none; }
  label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; font-size: 13px; }
  input, select, textarea { font: inherit; font-weight: 400; padding: 8px; border: 1px solid #747775; border-radius: 6px; color: #1f1f1f; background: #fff; }
  textarea { resize: vertical; min-height: 60px; }
  .primary { background: #0b57d0; color: #fff; border: 0; border-radius: 6px; padding: 10px 14px; font-size: 15px; cursor: pointer; }
  .secondary { background: #fff; color: #0b57d0; border: 1px solid #0b57d0; border-radius: 6px; padding: 8px 12px; cursor: pointer; }
  .note { color: #444746; font-size: 13px; margin: 0; }
  .error { color: #b3261e; font-size: 13px; margin: 0; }
  .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; background: #f8f9fa; }
  .msg { max-width: 80%; padding: 8px 10px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; }
  .msg.visitor { align-self: flex-end; background: #0b57d0; color: #fff; }
  .msg.operator { align-self: flex-start; background: #fff; border: 1px solid #dadce0; }
  .msg.system { align-self: center; background: transparent; color: #444746; font-size: 12px; font-style: italic; }
  .msg .meta { display: block; font-size: 11px; opacity: .85; margin-top: 3px; }
  .msg img { max-width: 100%; border-radius: 6px; display: block; }
  .msg a { color: inherit; }
  .status { padding: 6px 12px; font-size: 13px; color: #444746; border-top: 1px solid #eee; min-height: 28px; }
  .composer { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #dadce0; align-items: flex-end; }
  .composer textarea { flex: 1; min-height: 40px; max-height: 120px; }
  .iconbtn { background: #fff; border: 1px solid #747775; border-radius: 6px; padding: 8px 10px; cursor: pointer; font-size: 15px; }
  .invite, .suggest { background: #fff7e0; border: 1px solid #f9ab00; border-radius: 8px; padding: 10px; display: flex; flex-direction: column; gap: 8px; }
  .row { display: flex; gap: 8px; flex-wrap: wrap; }
  fieldset { border: 0; padding: 0; margin: 0; }
  .stars { display: flex; gap: 4px; }
  .stars input { position: absolute; opacity: 0; width: 1px; height: 1px; }
  .stars label { font-size: 26px; color: #9aa0a6; cursor: pointer; font-weight: 400; }
  .stars input:focus-visible + label, .stars label.lit { color: #e37400; }
  .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  @media (max-width: 480px) {
    .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; max-height: 100vh; border-radius: 0; }
    .launcher { right: 12px; bottom: 12px; }
  }
</style>
<button class="launcher" type="button" aria-haspopup="dialog" aria-expanded="false"><span class="dot" aria-hidden="true"></span><span class="launcher-text">Chat with us</span></button>
<section class="panel" role="dialog" aria-label="Chat with the shop" hidden>
  <header><h2 class="title">Chat with us</h2><button class="close" type="button" aria-label="Minimise chat">&#8211;</button></header>
  <form class="view prechat" hidden novalidate>
    <p class="note intro">Ask us anything: a person from the right team answers within moments.</p>
    <label>Your name <input name="name" autocomplete="name" maxlength="128"></label>
    <label>E-mail <input name="email" type="email" autocomplete="email" maxlength="256"></label>
    <label>Department <select name="department" required></select></label>
    <label>Your question <textarea name="question" maxlength="8000" required></textarea></label>
    <p class="note offline-note" hidden>Nobody from this team is online right now. Leave your message and e-mail, and we will answer by e-mail.</p>
    <p class="error form-error" role="alert"></p>
    <button class="primary start" type="submit">Start chat</button>
  </form>
  <div class="view chat" hidden style="padding:0;gap:0">
    <div class="log" role="log" aria-live="polite" aria-label="Messages"></div>
    <div class="status" aria-live="polite"></div>
    <div class="composer">
      <input class="file sr" type="file" accept="image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain" aria-label="Attach a file or screenshot" tabindex="-1">
      <button class="iconbtn attach" type="button" aria-label="Attach a file or screenshot" title="Attach a file or screenshot">+</button>
      <label class="sr" for="sb-text">Message</label>
      <textarea id="sb-text" class="text" rows="1" maxlength="8000" placeholder="Type a message…"></textarea>
      <button class="primary send" type="button">Send</button>
    </div>
    <div class="row" style="padding:0 8px 8px"><button class="secondary end" type="button">End chat</button></div>
  </div>
  <div class="view done" hidden>
    <p class="done-text note">The chat has ended. Thank you!</p>
    <form class="rating">
      <fieldset>
        <legend class="note">How did we do?</legend>
        <div class="stars"></div>
      </fieldset>
      <label>Comment (optional) <textarea name="comment" maxlength="2000"></textarea></label>
      <button class="primary" type="submit">Send rating</button>
      <p class="note rating-done" role="status"></p>
    </form>
    <form class="mail">
      <label>E-mail me the transcript <input name="email" type="email" autocomplete="email" maxlength="256"></label>
      <button class="secondary" type="submit">Send transcript</button>
      <p class="note mail-done" role="status"></p>
    </form>
    <button class="secondary again" type="button">Start a new chat</button>
  </div>
</section>`;
  const $ = (selector) => root.querySelector(selector);
  const launcher = $('.launcher'), panel = $('.panel'), log = $('.log'), statusLine = $('.status'), text = $('.text');
  const stars = $('.stars');
  for (let score = 1; score <= 5; score++) {
    stars.insertAdjacentHTML('beforeend', `<input type="radio" name="score" id="sb-star-${score}" value="${score}"><label for="sb-star-${score}" aria-label="${score} of 5">&#9733;</label>`);
  }
  // A score of 4 lights four stars, not only the fourth.
  function lightStars() {
    const score = Number((root.querySelector('input[name=score]:checked') || {}).value || 0);
    stars.querySelectorAll('label').forEach((label, index) => label.classList.toggle('lit', index < score));
  }
  stars.addEventListener('change', lightStars);
  let ratedConversation = null;   // the chat whose rating was taken (its form stays closed)
  /** The rating form, open for a chat that just ended, or done once its rating was taken. */
  function ratingOpen(open) {
    const form = $('.rating');
    for (const field of form.querySelectorAll('input, textarea, button')) field.disabled = !open;
    form.querySelector('button').hidden = !open;
    if (open) { form.reset(); $('.rating-done').textContent = ''; lightStars(); }
  }

  // ---- views ----
  function show(view) {
    for (const name of ['prechat', 'chat', 'done']) root.querySelector('.' + name).hidden = name !== view;
    if (view === 'prechat') renderDepartments();
  }
  function setOpen(open) {
    state.open = open;
    persist();
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', String(open));
    if (open) {
      if (!state.conversation) show('prechat');
      const focus = state.conversation && !state.ended ? text : root.querySelector('.view:not([hidden]) input, .view:not([hidden]) textarea, .view:not([hidden]) button');
      if (focus) focus.focus();
      markRead();
    }
  }
  launcher.addEventListener('click', () => setOpen(panel.hidden));
  $('.close').addEventListener('click', () => { setOpen(false); launcher.focus(); });
  panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') { setOpen(false); launcher.focus(); } });

  function renderDepartments() {
    const select = $('select[name=department]');
    const chosen = select.value;
    select.innerHTML = '';
    for (const d of departments) {
      const option = document.createElement('option');
      option.value = d.id;
      option.textContent = `${label(d.id)} — ${d.online ? 'online' : 'offline, leave a message'}`;
      select.appendChild(option);
    }
    if (chosen) select.value = chosen;
    updateOfflineNote();
  }
  function updateOfflineNote() {
    const d = departments.find((x) => x.id === $('select[name=department]').value);
    const offline = d ? !d.online : false;
    $('.offline-note').hidden = !offline;
    $('.start').textContent = offline ? 'Leave a message' : 'Start chat';
    $('.prechat input[name=email]').required = offline;
  }
  $('select[name=department]').addEventListener('change', updateOfflineNote);
  function renderLauncher() {
    const online = departments.some((d) => d.online);
    $('.dot').classList.toggle('on', online);
    $('.launcher-text').textContent = online ? 'Chat with us — we are online' : 'Leave us a message';
  }

  // ---- messages ----
  function time(ms) { return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); }
  function bubble(kind, body, meta) {
    const el = document.createElement('div');
    el.className = 'msg ' + kind;
    const content = document.createElement('span');
    content.className = 'body';
    if (body instanceof Node) content.appendChild(body); else content.textContent = body;
    el.appendChild(content);
    const m = document.createElement('span');
    m.className = 'meta';
    m.textContent = meta || '';
    el.appendChild(m);
    log.appendChild(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }
  function system(textValue) { return bubble('system', textValue, ''); }

  function onEvent(e) {
    if (e.conversation !== state.conversation) return;
    lastSeen = Math.max(lastSeen, e.sequence);
    if (shown.has(e.sequence)) return;  // a replay (resume) of what is on screen
    const who = e.author.kind;
    let el;
    const mine = who === 'visitor' && e.type === 'message' && [...pending].find(([, p]) => p.text === e.text);
    if (mine) {
      // Our own message, echoed before its acknowledgement arrived: one bubble, not two.
      pending.delete(mine[0]);
      el = mine[1].el;
      el.querySelector('.meta').textContent = metaFor(e);
    } else if (e.type === 'notice') {
      el = system(e.text);
    } else if (e.type === 'attachment') {
      el = bubble(who === 'visitor' ? 'visitor' : 'operator', attachmentView(e), metaFor(e));
    } else {
      el = bubble(who === 'visitor' ? 'visitor' : who === 'operator' ? 'operator' : 'system', e.text, metaFor(e));
    }
    el.dataset.sequence = e.sequence;
    shown.set(e.sequence, el);
    if (who === 'operator') { operatorName = e.author.name || operatorName; markRead(); }
  }
  function metaFor(e) {
    const who = e.author.kind === 'visitor' ? 'You' : e.author.kind === 'operator' ? (e.author.name || 'Operator') : '';
    return `${who} · ${time(e.time)}${e.author.kind === 'visitor' ? ' · sent' : ''}`;
  }
  function attachmentView(e) {
    const a = e.attachment;
    const wrap = document.createElement('span');
    const link = document.createElement('a');
    link.href = '#';
    link.textContent = `${a.name} (${Math.ceil(a.size / 1024)} KiB)`;
    wrap.appendChild(link);
    fetch(`${httpBase}/api/attachments/${encodeURIComponent(e.conversation)}/${a.id}`, { headers: { Authorization: 'Bearer ' + state.token } })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.status))))
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        link.href = url;
        link.download = a.name;
        if (a.contentType.startsWith('image/')) {
          const img = document.createElement('img');
          img.src = url;
          img.alt = a.name;
          wrap.insertBefore(img, link);
        }
      })
      .catch(() => { link.textContent += ' (could not load)'; });
    return wrap;
  }
  function markRead() {
    if (!ready || panel.hidden || !state.conversation || lastSeen <= lastReadSent) return;
    lastReadSent = lastSeen;
    send({ type: 'read', conversation: state.conversation, sequence: lastSeen });
  }

  // ---- sending ----
  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }
  function id() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }
  function sendMessage() {
    const value = text.value.trim();
    if (!value || !state.conversation) return;
    text.value = '';
    const clientMessageId = id();
    const el = bubble('visitor', value, 'sending…');
    pending.set(clientMessageId, { text: value, el });
    send({ type: 'send', conversation: state.conversation, clientMessageId, text: value });
    stopTyping();
  }
  $('.send').addEventListener('click', sendMessage);
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); sendMessage(); }
  });
  text.addEventListener('input', () => {
    if (!state.conversation) return;
    if (!typingSent) { typingSent = true; send({ type: 'typing', conversation: state.conversation, typing: true }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  });
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent && state.conversation) send({ type: 'typing', conversation: state.conversation, typing: false });
    typingSent = false;
  }

  $('.attach').addEventListener('click', () => $('.file').click());
  const maxUpload = 512 * 1024;
  /** A photo from a phone is often several MB: shrink it (JPEG, at most 1600 px) to fit. */
  async function shrink(file) {
    if (file.size <= maxUpload || !/^image\/(png|jpeg|webp)$/.test(file.type)) return file;
    const image = await createImageBitmap(file);
    const scale = Math.min(1, 1600 / Math.max(image.width, image.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(image.width * scale);
    canvas.height = Math.round(image.height * scale);
    canvas.getContext('2d').drawImage(image, 0, 0, canvas.width, canvas.height);
    for (const quality of [0.85, 0.7, 0.5, 0.35]) {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
      if (blob && blob.size <= maxUpload) return new File([blob], file.name.replace(/\.\w+$/, '') + '.jpg', { type: 'image/jpeg' });
    }
    return file;
  }
  $('.file').addEventListener('change', async () => {
    let file = $('.file').files[0];
    $('.file').value = '';
    if (!file || !state.conversation) return;
    file = await shrink(file).catch(() => file);
    if (file.size > maxUpload) { system(`${file.name} is larger than 512 KiB and was not sent.`); return; }
    const note = system(`Sending ${file.name}…`);
    try {
      const response = await fetch(`${httpBase}/api/attachments/${encodeURIComponent(state.conversation)}`, {
        method: 'POST', body: file,
        headers: { Authorization: 'Bearer ' + state.token, 'Content-Type': file.type || 'application/octet-stream',
                   'X-File-Name': encodeURIComponent(file.name), 'X-Client-Message-Id': id() },
      });
      const answer = await response.json();
      note.remove();
      if (!response.ok) system(`${file.name} was not sent: ${answer.message}`);
    } catch (error) {
      note.textContent = `${file.name} was not sent (network).`;
    }
  });

  $('.prechat').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target;
    const department = form.department.value, question = form.question.value.trim();
    state.name = form.name.value.trim();
    state.email = form.email.value.trim();
    const offline = departments.find((d) => d.id === department && !d.online);
    const problem = !question ? 'Please write your question.' : offline && !state.email ? 'Please give your e-mail so we can answer.' : '';
    $('.form-error').textContent = problem;
    if (problem) return;
    persist();
    startChat(department, question);
  });
  function startChat(department, question) {
    const message = { type: 'start', requestId: id(), department };
    if (state.name) message.name = state.name;
    if (state.email) message.email = state.email;
    if (question) message.question = question;
    pendingStart = message;
    send(message);
  }

  $('.end').addEventListener('click', () => {
    if (state.conversation && confirm('End this chat?')) send({ type: 'leave', conversation: state.conversation });
  });
  $('.rating').addEventListener('submit', (e) => {
    e.preventDefault();
    const score = Number((root.querySelector('input[name=score]:checked') || {}).value || 0);
    if (!score) { $('.rating-done').textContent = 'Pick 1 to 5 stars first.'; return; }
    const message = { type: 'rate', conversation: state.conversation, score };
    const comment = e.target.comment.value.trim();
    if (comment) message.comment = comment;
    const rating = state.conversation;
    expect('rate', () => { ratedConversation = rating; ratingOpen(false); $('.rating-done').textContent = 'Thank you for your rating!'; });
    send(message);
  });
  $('.mail').addEventListener('submit', (e) => {
    e.preventDefault();
    const email = e.target.email.value.trim();
    expect('mail', () => { $('.mail-done').textContent = `The transcript is on its way to ${email}.`; },
           (error) => { $('.mail-done').textContent = error.message; });
    send({ type: 'emailTranscript', conversation: state.conversation, email });
  });
  $('.again').addEventListener('click', () => {
    state.conversation = null; state.ended = false;
    persist();
    resetLog();
    show('prechat');
  });
  function resetLog() { log.innerHTML = ''; shown.clear(); pending.clear(); lastSeen = 0; lastReadSent = 0; statusLine.textContent = ''; }

  // The rating and the transcript request are answered without a request id; they are the
  // only commands sent once the chat has ended, so their answers come in their order.
  const expectations = [];
  function expect(what, ok, failed) { expectations.push({ what, ok, failed }); }

  function enterChat(conversation) {
    if (state.conversation !== conversation) resetLog();
    state.conversation = conversation;
    state.ended = false;
    persist();
    show('chat');
  }
  /** The chat is over. Only a chat someone answered can be rated (the router refuses the rest). */
  function ended(textValue, rateable = true) {
    state.ended = true;
    persist();
    $('.done-text').textContent = textValue;
    $('.mail input').value = state.email;
    $('.rating').hidden = !rateable;
    if (state.conversation !== ratedConversation) ratingOpen(true);
    show('done');
  }

  // ---- server events ----
  function onMessage(raw) {
    const m = JSON.parse(raw);
    switch (m.type) {
      case 'welcome':
        if (m.token) { state.token = m.token; persist(); }
        ready = true;
        retryDelay = 500;
        send({ type: 'departments' });
        send({ type: 'page', url: location.href.slice(0, 2048), title: document.title.slice(0, 512) });
        while (queuedTracks.length) send(queuedTracks.shift());
        if (state.conversation && !state.ended) {
          send({ type: 'resume', conversation: state.conversation, after: lastSeen });
          if (statusLine.textContent.includes('reconnecting')) statusLine.textContent = operatorName ? `You are chatting with ${operatorName}.` : '';
        }
        // Messages not yet acknowledged go again with the same id: the router stores each once.
        for (const [clientMessageId, p] of pending) send({ type: 'send', conversation: state.conversation, clientMessageId, text: p.text });
        if (pendingStart) send(pendingStart);
        break;
      case 'departments':
        departments = m.items;
        renderLauncher();
        if (!$('.prechat').hidden) renderDepartments();
        break;
      case 'accepted':
        if (pendingStart && m.requestId === pendingStart.requestId) {
          pendingStart = null;
          enterChat(m.conversation);
          $('.prechat').reset();
        } else if (m.requestId && pending.has(m.requestId)) {
          const p = pending.get(m.requestId);
          pending.delete(m.requestId);
          p.el.querySelector('.meta').textContent = `You · ${time(Date.now())} · sent`;
          if (!shown.has(m.sequence)) { shown.set(m.sequence, p.el); p.el.dataset.sequence = m.sequence; }
        } else if (!m.requestId && m.conversation === state.conversation && state.ended && expectations.length) {
          expectations.shift().ok();  // a rating or a transcript request, the only commands sent after the end
        }
        break;
      case 'message': case 'notice': case 'attachment':
        onEvent(m);
        break;
      case 'queued':
        if (m.conversation === state.conversation) {
          statusLine.textContent = `You are number ${m.position} in line` + (m.estimatedWaitSeconds > 0 ? `, about ${Math.max(1, Math.round(m.estimatedWaitSeconds / 60))} min.` : '.');
        }
        break;
      case 'assigned':
        operatorName = m.operator.name;
        statusLine.textContent = `You are chatting with ${m.operator.name}.`;
        break;
      case 'typing':
        if (m.author.kind === 'operator') statusLine.textContent = m.typing ? `${m.author.name || operatorName || 'The operator'} is typing…` : (operatorName ? `You are chatting with ${operatorName}.` : '');
        break;
      case 'read':
        for (const [sequence, el] of shown) {
          if (sequence <= m.sequence && el.classList.contains('visitor')) el.querySelector('.meta').textContent = el.querySelector('.meta').textContent.replace(/ · sent$/, ' · read');
        }
        break;
      case 'operatorLeft': statusLine.textContent = 'The operator left; the next free colleague will take over.'; break;
      case 'transferred': statusLine.textContent = 'You are being transferred' + (m.toDepartment ? ` to ${label(m.toDepartment)}.` : '.'); break;
      case 'ended': if (m.conversation === state.conversation) ended('The chat has ended. Thank you!'); break;
      case 'offline': if (m.conversation === state.conversation) ended('Thanks! Nobody was online, so we will answer your message by e-mail.', false); break;
      case 'missed': if (m.conversation === state.conversation) ended('Sorry, nobody could take your chat in time. We will answer your message by e-mail.', false); break;
      case 'navigate': suggestPage(m.url); break;
      case 'invitation': showInvitation(m); break;
      case 'error':
        if (pendingStart && m.requestId === pendingStart.requestId) { pendingStart = null; $('.form-error').textContent = m.message; }
        else if (m.requestId && pending.has(m.requestId)) { pending.get(m.requestId).el.querySelector('.meta').textContent = 'not sent: ' + m.message; pending.delete(m.requestId); }
        else if (m.code === 'unknown_conversation' && state.conversation) { state.conversation = null; persist(); resetLog(); show('prechat'); }
        else if (expectations.length) { const x = expectations.shift(); if (x.failed) x.failed(m); }
        break;
    }
  }

  function suggestPage(url) {
    const target = new URL(url, location.href);
    // Only pages of this shop: an operator account must not be able to send shoppers elsewhere.
    if (target.origin !== location.origin) { system('The operator suggested a page outside this shop; it was not opened.'); return; }
    const box = document.createElement('div');
    box.className = 'suggest';
    box.innerHTML = '<span></span><div class="row"><button class="primary go" type="button">Open the page</button><button class="secondary no" type="button">No, thanks</button></div>';
    box.querySelector('span').textContent = `${operatorName || 'The operator'} suggests this page: ${target.pathname}${target.search}`;
    box.querySelector('.go').addEventListener('click', () => { location.href = target.href; });
    box.querySelector('.no').addEventListener('click', () => box.remove());
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
    if (panel.hidden) setOpen(true);
  }

  function showInvitation(m) {
    if (state.conversation && !state.ended) return;  // already chatting
    show('prechat');
    const form = $('.prechat');
    let box = form.querySelector('.invite');
    if (!box) {
      box = document.createElement('div');
      box.className = 'invite';
      box.innerHTML = '<strong></strong><span></span><div class="row"><button class="primary yes" type="button">Chat now</button><button class="secondary no" type="button">No, thanks</button></div>';
      form.insertBefore(box, form.firstChild);
    }
    box.querySelector('strong').textContent = m.operator.name;
    box.querySelector('span').textContent = m.text;
    box.querySelector('.yes').onclick = () => { box.remove(); startChat(m.department, ''); };
    box.querySelector('.no').onclick = () => box.remove();
    setOpen(true);
  }

  // ---- connection ----
  /** The wait before reconnecting: the backoff with jitter (half to one and a half times it),
   *  so that when a server restarts its widgets do not all come back in the same instant;
   *  after a restart notice (1012) spread over a few seconds at first. */
  function reconnectDelay(delay, code) {
    const jittered = delay / 2 + Math.random() * delay;
    return code === 1012 ? jittered + Math.random() * 3000 : jittered;
  }
  function connect() {
    socket = new WebSocket(wsURL);
    socket.onopen = () => send(state.token ? { type: 'hello', token: state.token } : { type: 'hello', site });
    socket.onmessage = (e) => onMessage(e.data);
    socket.onclose = (e) => {
      ready = false;
      if (e.code === 1008) { state.token = null; state.conversation = null; persist(); }  // token refused: start afresh
      if (state.conversation && !state.ended) statusLine.textContent = 'Connection lost; reconnecting…';
      setTimeout(connect, reconnectDelay(retryDelay, e.code));
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }

  // ---- the shop's API ----
  window.Switchboard = {
    version: 1,
    /** Report what the shopper does: track('cart', {value, items}) or track('page', {url, title}). */
    track(kind, data) {
      let message;
      if (kind === 'cart') message = { type: 'cart', value: Math.max(0, Number(data.value) || 0), items: Math.max(0, Math.floor(Number(data.items) || 0)) };
      else if (kind === 'page') message = { type: 'page', url: String(data.url || location.href).slice(0, 2048), title: String(data.title || document.title).slice(0, 512) };
      else throw new Error('Switchboard.track: kind must be "cart" or "page"');
      if (ready) send(message); else queuedTracks.push(message);
    },
    /** Opens the chat panel. */
    open() { setOpen(true); },
  };

  function mount() {
    document.body.appendChild(host);
    if (state.conversation) show(state.ended ? 'done' : 'chat');
    if (state.ended) ended('The chat has ended. Thank you!');
    setOpen(state.open);
    connect();
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
