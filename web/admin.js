// Switchboard admin page: the gateway's admin REST API (docs/operations.md) with the
// admin's bearer token.
(function () {
  'use strict';
  const $ = (selector) => document.querySelector(selector);
  const token = sessionStorage.getItem('switchboard-admin');

  $('#login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    const response = await fetch('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ site: form.site.value, operator: form.operator.value, password: form.password.value }) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) { $('#login-error').textContent = answer.message || `login failed (${response.status})`; return; }
    if (answer.role !== 'admin') { $('#login-error').textContent = 'This operator is not an admin of the site.'; return; }
    sessionStorage.setItem('switchboard-admin', answer.token);
    location.reload();
  });
  $('#logout').addEventListener('click', () => { sessionStorage.removeItem('switchboard-admin'); location.reload(); });
  if (!token) return;
  $('#login').hidden = true;
  $('#app').hidden = false;

  async function api(method, path, body) {
    const response = await fetch('/api/admin/' + path, { method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401) { sessionStorage.removeItem('switchboard-admin'); location.reload(); }
    const text = await response.text();
    if (!response.ok) { $('#error').textContent = `${method} ${path}: ${text}`; throw new Error(text); }
    $('#error').textContent = '';
    return path.endsWith('.txt') ? text : JSON.parse(text);
  }
  function row(cells, extra) {
    const tr = document.createElement('tr');
    for (const cell of cells) { const td = document.createElement('td'); td.textContent = cell; tr.append(td); }
    if (extra) { const td = document.createElement('td'); td.append(extra); tr.append(td); }
    return tr;
  }
  function button(text, onclick) { const b = document.createElement('button'); b.type = 'button'; b.className = 'plain'; b.textContent = text; b.onclick = onclick; return b; }

  async function loadCanned() {
    const { items } = await api('GET', 'canned');
    $('#canned').replaceChildren(...items.filter((c) => c.scope === 'site').map((c) =>
      row([`/${c.shortcut}`, c.text], button('Delete', async () => { await api('DELETE', 'canned/' + encodeURIComponent(c.shortcut)); loadCanned(); }))));
  }
  $('#canned-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    await api('PUT', 'canned/' + encodeURIComponent(e.target.shortcut.value), { text: e.target.text.value });
    e.target.reset();
    loadCanned();
  });
  // What each state means to the person reading the list.
  const memberStates = { alive: 'alive', suspect: 'not answering (suspected)', dead: 'down', left: 'left the cluster', alone: 'alone' };
  function showCluster(members) {
    const alone = members.length === 1 && members[0].state === 'alone';
    $('#cluster-note').textContent = alone
      ? 'This router runs alone: no cluster membership is configured (start routerd router with --gossip and --seeds).'
      : `${members.filter((m) => m.state === 'alive').length} of ${members.length} routers alive, as ${members[0].node} sees them.`;
    $('#cluster').replaceChildren(...members.map((m) => {
      const tr = row([`${m.node} (generation ${m.generation})${m.self ? ', this router' : ''}`, memberStates[m.state] || m.state, m.address || '—', m.operatorsOnline]);
      tr.children[1].className = `state-${m.state}`;
      return tr;
    }));
  }
  function showPartitions(control) {
    const owners = {};
    for (const p of control.items) owners[p.owner || 'nobody'] = (owners[p.owner || 'nobody'] || 0) + 1;
    const leader = control.leader ? `Leader ${control.leader} (term ${control.term})` : 'No leader right now';
    $('#control-note').textContent = `${leader}; this router is ${control.role === 'leader' ? 'the leader' : (/^[aeiou]/.test(control.role) ? 'an ' : 'a ') + control.role}. Table version ${control.tableVersion}, `
      + `voters ${control.voters.join(', ')}${control.observers.length ? ', observers ' + control.observers.join(', ') : ''}. Partitions per router: `
      + Object.entries(owners).map(([owner, count]) => `${owner} ${count}`).join(', ') + '.';
    $('#partitions').replaceChildren(...control.items.map((p) => row([p.partition, p.owner || 'nobody', p.epoch, p.inSync.join(', ')])));
  }
  async function loadLive() {
    const [operators, queue, conversations, cluster] = await Promise.all([api('GET', 'operators'), api('GET', 'queues'), api('GET', 'conversations?all=1'),
      api('GET', 'cluster')]);
    showCluster(cluster.items);
    // A listing gathered from every router names those that did not answer.
    const missing = [...new Set([operators, queue, conversations].flatMap((l) => l.unavailable || []))];
    $('#incomplete').hidden = missing.length === 0;
    $('#incomplete').textContent = missing.length === 0 ? '' : `${missing.join(' and ')} did not answer: the operators, queue and conversations below may be missing some until ${missing.length === 1 ? 'it is' : 'they are'} back.`;
    api('GET', 'partitions').then(showPartitions, () => { $('#control-note').textContent = 'This router runs no control plane.'; });
    $('#operators').replaceChildren(...operators.items.map((o) => row([`${o.name} (${o.id})`, o.status, o.connected ? 'yes' : 'no', `${o.chats} / ${o.maxChats}`,
      Object.entries(o.skills).map(([skill, level]) => `${skill} ${level}`).join(', ')])));
    $('#queue').replaceChildren(...queue.items.map((q) => row([q.position, q.department, (q.visitorProfile || {}).name || q.visitor, `${q.waitingSeconds} s`])));
    $('#conversations').replaceChildren(...conversations.items.map((c) => row([c.conversation, c.department, c.state, c.operator || '', c.rating ? `${c.rating.score}/5 ${c.rating.comment}` : ''],
      button('Transcript', async () => { const pre = $('#transcript'); pre.textContent = await api('GET', `conversations/${encodeURIComponent(c.conversation)}.txt`); pre.hidden = false; }))));
  }
  loadCanned();
  loadLive();
  setInterval(loadLive, 5000);
})();
