// The bridge local console: plain JavaScript, no framework, nothing fetched from elsewhere.
// Text from the state is always put into the page with textContent, never as HTML.
'use strict';

const MAX_ROWS = 1000;
const STATES = { visible: 'available', in_flight: 'in flight', delayed: 'delayed' };
const state = {
  overview: null,
  rows: [],          // activity rows, newest first
  lastId: 0,
  selectedEvent: null,
  openQueue: null,
  received: [],      // messages received from the open queue: {message_id, receipt_handle, body}
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  }
  return node;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const message = data && data.error ? data.error : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return data;
}

function pretty(text) {
  if (text === null || text === undefined) return '';
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

function shortArn(arn) {
  const parts = String(arn).split(':');
  if (parts.length >= 6 && parts[0] === 'arn') return `${parts[2]}:${parts.slice(5).join(':')}`;
  return String(arn);
}

function clock(ms) {
  const d = new Date(ms);
  return d.toISOString().slice(11, 19);
}

function isGood(outcome) {
  return outcome === 'delivered' || outcome.startsWith('written to outbox') || outcome.startsWith('moved to');
}

// ---- views -------------------------------------------------------------------------------

function showView() {
  const hash = location.hash.replace(/^#/, '') || 'wiring';
  const [view, arg] = hash.split('/');
  const name = ['wiring', 'events', 'queues', 'outbox', 'send'].includes(view) ? view : 'wiring';
  for (const section of document.querySelectorAll('.view')) {
    section.classList.toggle('active', section.id === `view-${name}`);
  }
  for (const link of document.querySelectorAll('nav a')) {
    link.classList.toggle('active', link.dataset.view === name);
  }
  if (name === 'queues') {
    if (arg) openQueue(decodeURIComponent(arg));
    refreshOverview();
  }
  if (name === 'events' && arg) openEvent(decodeURIComponent(arg));
  if (name === 'outbox') loadOutbox();
}

// ---- overview, wiring ----------------------------------------------------------------------

async function refreshOverview() {
  try {
    state.overview = await api('/api/overview');
  } catch (e) {
    setStatus(`error: ${e.message}`, false);
    return;
  }
  const o = state.overview;
  document.getElementById('stack').textContent = `${o.stack} · local`;
  document.title = `bridge console: ${o.stack}`;
  const paths = document.getElementById('paths');
  paths.replaceChildren(`state: ${o.state_dir}`, el('br'),
    ...o.buckets.flatMap((b) => [`bucket ${b.name}: ${b.dir} (files written here become S3 events)`, el('br')]));
  renderQueues();
  renderScopes();
}

async function loadGraph() {
  const response = await fetch('/api/graph.svg');
  const text = await response.text();
  const box = document.getElementById('graph');
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (svg.nodeName !== 'svg') return;
  box.replaceChildren(document.importNode(svg, true));
  for (const g of box.querySelectorAll('g')) {
    const title = g.querySelector('title');
    if (!title) continue;
    const text = title.textContent;
    const space = text.indexOf(' ');
    const kind = text.slice(0, space);
    const name = text.slice(space + 1);
    g.classList.add('node');
    g.dataset.kind = kind;
    g.dataset.name = name;
    g.addEventListener('click', () => {
      if (kind === 'queue') location.hash = `#queues/${encodeURIComponent(name)}`;
      else if (kind === 'subscriber' && name.includes('@')) location.hash = '#outbox';
      else {
        filterEvents(name);
        location.hash = '#events';
      }
    });
  }
}

// ---- live events ---------------------------------------------------------------------------

function setStatus(text, live) {
  const s = document.getElementById('status');
  s.textContent = text;
  s.classList.toggle('live', live);
}

function rowMatches(a) {
  const scope = document.getElementById('event-scope').value;
  const text = document.getElementById('event-filter').value.trim().toLowerCase();
  const hay = `${a.origin} ${a.target} ${a.message_id} ${a.outcome}`.toLowerCase();
  if (scope && !`${a.origin} ${a.target}`.toLowerCase().includes(scope.toLowerCase())) return false;
  return !text || hay.includes(text);
}

function eventRow(a, fresh) {
  const tr = el('tr', { class: fresh ? 'event-row fresh' : 'event-row', 'data-id': a.message_id, 'data-activity': String(a.id) },
    el('td', { class: 'time' }, clock(a.at_ms)),
    el('td', { class: 'origin' }, a.origin.startsWith('topic ') || a.origin.startsWith('redrive ')
      ? `${a.origin.split(' ')[0]} ${shortArn(a.origin.split(' ')[1])}` : a.origin),
    el('td', { class: 'target' }, shortArn(a.target)),
    el('td', { class: isGood(a.outcome) ? 'outcome ok' : 'outcome bad' }, a.outcome));
  if (state.selectedEvent === a.message_id) tr.classList.add('selected');
  tr.addEventListener('click', () => { location.hash = `#events/${encodeURIComponent(a.message_id)}`; });
  return tr;
}

function renderEvents() {
  const body = document.getElementById('event-list');
  const shown = state.rows.filter(rowMatches);
  body.replaceChildren(...shown.map((a) => eventRow(a, false)));
  document.getElementById('event-count').textContent = `${shown.length} of ${state.rows.length}`;
}

function addActivity(a) {
  if (a.id <= state.lastId) return;
  state.lastId = a.id;
  state.rows.unshift(a);
  if (state.rows.length > MAX_ROWS) state.rows.length = MAX_ROWS;
  if (rowMatches(a)) {
    const body = document.getElementById('event-list');
    body.prepend(eventRow(a, true));
    while (body.children.length > MAX_ROWS) body.lastChild.remove();
  }
  document.getElementById('event-count').textContent =
    `${document.getElementById('event-list').children.length} of ${state.rows.length}`;
}

function renderScopes() {
  const select = document.getElementById('event-scope');
  const current = select.value;
  const o = state.overview;
  const group = (label, values) => {
    const g = el('optgroup', { label });
    for (const v of values) g.append(el('option', { value: v.value }, v.label));
    return g;
  };
  select.replaceChildren(el('option', { value: '' }, 'everything'),
    group('rules', o.rules.map((r) => ({ value: `rule ${r.bus}/${r.name}`, label: `rule ${r.name}` }))),
    group('buckets', o.buckets.map((b) => ({ value: `bucket ${b.name}`, label: `bucket ${b.name}` }))),
    group('targets', [
      ...o.queues.map((q) => ({ value: q.arn, label: `queue ${q.name}` })),
      ...o.topics.map((t) => ({ value: t.arn, label: `topic ${t.name}` })),
    ]));
  select.value = current;
}

function filterEvents(text) {
  document.getElementById('event-scope').value = '';
  document.getElementById('event-filter').value = text;
  renderEvents();
}

async function loadActivity() {
  const data = await api('/api/activity?limit=500');
  state.rows = data.rows.slice().reverse();
  state.lastId = data.last_id;
  renderEvents();
  return data.last_id;
}

let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refreshOverview();
    if (state.openQueue) openQueue(state.openQueue);
    if (location.hash === '#outbox') loadOutbox();
  }, 300);
}

function connectStream(after) {
  const source = new EventSource(`/api/stream?after=${after}`);
  source.addEventListener('open', () => setStatus('live', true));
  source.addEventListener('activity', (e) => {
    addActivity(JSON.parse(e.data));
    refreshSoon();
  });
  source.addEventListener('failure', (e) => setStatus(`error: ${e.data}`, false));
  source.addEventListener('error', () => setStatus('reconnecting…', false));
}

async function openEvent(id) {
  state.selectedEvent = id;
  for (const tr of document.querySelectorAll('#event-list tr')) {
    tr.classList.toggle('selected', tr.dataset.id === id);
  }
  const box = document.getElementById('event-detail');
  let ev;
  try {
    ev = await api(`/api/events/${encodeURIComponent(id)}`);
  } catch (e) {
    box.replaceChildren(el('h2', {}, id), el('p', { class: 'bad' }, e.message));
    return;
  }
  const parts = [el('h2', {}, ev.bus ? `event ${ev.id}` : `message ${ev.id}`)];
  if (ev.bus) {
    parts.push(el('h3', {}, 'matched rules'));
    const rules = el('div', { id: 'detail-rules' });
    if (ev.matched_rules.length === 0) rules.append(el('span', { class: 'hint' }, 'none: no rule on this bus matched'));
    for (const r of ev.matched_rules) rules.append(el('span', { class: 'tag rule' }, r));
    parts.push(rules);
    parts.push(el('h3', {}, `envelope, as it entered bus ${ev.bus}`));
    parts.push(el('pre', { class: 'envelope' }, pretty(ev.envelope)));
  }
  parts.push(el('h3', {}, 'deliveries'));
  for (const d of ev.deliveries) {
    parts.push(el('div', { class: 'delivery' },
      el('div', {}, `${d.origin} → ${shortArn(d.target)} `,
        el('span', { class: isGood(d.outcome) ? 'ok' : 'bad' }, d.outcome)),
      d.body === null ? el('p', { class: 'hint' }, 'no body recorded')
        : el('pre', { class: 'delivery-body' }, pretty(d.body))));
  }
  box.replaceChildren(...parts);
}

// ---- queues --------------------------------------------------------------------------------

function renderQueues() {
  const o = state.overview;
  if (!o) return;
  const body = document.getElementById('queue-table');
  body.replaceChildren(...o.queues.map((q) => {
    const tr = el('tr', { class: 'queue-row', 'data-queue': q.name },
      el('td', { class: 'name' }, q.name + (q.fifo ? ' (FIFO)' : '')),
      el('td', { class: 'available' }, q.available),
      el('td', { class: 'in-flight' }, q.in_flight),
      el('td', { class: 'delayed' }, q.delayed),
      el('td', { class: 'dlq' }, q.dead_letter_queue ? `${q.dead_letter_queue} (after ${q.max_receive_count} receives)` : '—'));
    if (state.openQueue === q.name) tr.classList.add('selected');
    tr.addEventListener('click', () => { location.hash = `#queues/${encodeURIComponent(q.name)}`; });
    return tr;
  }));
}

async function openQueue(name) {
  if (state.openQueue !== name) state.received = [];
  state.openQueue = name;
  for (const tr of document.querySelectorAll('#queue-table tr')) {
    tr.classList.toggle('selected', tr.dataset.queue === name);
  }
  const box = document.getElementById('queue-detail');
  let peek;
  try {
    peek = await api(`/api/queues/${encodeURIComponent(name)}/messages?limit=100`);
  } catch (e) {
    box.replaceChildren(el('h2', {}, name), el('p', { class: 'bad' }, e.message));
    return;
  }
  const receiveButton = el('button', { id: 'receive-btn', type: 'button', onclick: () => receiveOne(name) }, 'Receive one');
  const actions = el('p', {}, receiveButton);
  for (const source of peek.dead_letter_sources) {
    actions.append(' ', el('button', {
      class: 'secondary redrive-btn', type: 'button', 'data-to': source.queue,
      onclick: () => redrive(name, source.queue),
    }, `Redrive to ${source.queue}`));
  }
  const c = peek.counts;
  const parts = [
    el('h2', {}, `queue ${name}`),
    el('p', { id: 'queue-depth' }, `${c.visible} available, ${c.in_flight} in flight, ${c.delayed} delayed. `,
      el('span', { class: 'hint' }, 'Listed without receiving (no visibility change). Receiving makes a message in flight, as a consumer would; delete needs its receipt.')),
    actions,
  ];
  if (peek.dead_letter_sources.length) {
    parts.push(el('p', { class: 'hint' }, `Dead-letter queue of ${peek.dead_letter_sources.map((s) => s.queue).join(', ')}: redrive moves its available messages back (as bridge dlq redrive).`));
  }
  if (state.received.length) {
    parts.push(el('h3', {}, 'received here'));
    for (const m of state.received) {
      parts.push(el('div', { class: 'message received', 'data-id': m.message_id },
        el('div', { class: 'meta' }, `${m.message_id} · receipt held by this page `,
          el('button', { class: 'secondary delete-btn', type: 'button', onclick: () => deleteMessage(name, m) }, 'Delete')),
        el('pre', {}, pretty(m.body))));
    }
  }
  parts.push(el('h3', {}, `messages (${peek.messages.length})`));
  for (const m of peek.messages) {
    parts.push(el('div', { class: `message peeked ${m.state}`, 'data-id': m.message_id },
      el('div', { class: 'meta' }, `${STATES[m.state] || m.state} · received ${m.receive_count}× · sent ${clock(m.sent_ms)} · ${m.message_id}`),
      el('pre', {}, pretty(m.body))));
  }
  box.replaceChildren(...parts);
}

async function receiveOne(name) {
  try {
    const got = await api(`/api/queues/${encodeURIComponent(name)}/receive`, { max_messages: 1 });
    state.received.push(...got.messages);
  } catch (e) {
    alertIn('queue-detail', e.message);
  }
  await refreshOverview();
  await openQueue(name);
}

async function redrive(name, to) {
  try {
    const report = await api(`/api/queues/${encodeURIComponent(name)}/redrive`, { to });
    alertIn('queue-detail', `moved ${report.moved} message(s) from ${report.from} to ${report.to}`, 'ok');
  } catch (e) {
    alertIn('queue-detail', e.message);
  }
  await refreshOverview();
  await openQueue(name);
}

async function deleteMessage(name, m) {
  try {
    await api(`/api/queues/${encodeURIComponent(name)}/delete`, { receipt_handle: m.receipt_handle });
  } catch (e) {
    alertIn('queue-detail', e.message);
  }
  state.received = state.received.filter((r) => r !== m);
  await refreshOverview();
  await openQueue(name);
}

function alertIn(id, message, kind) {
  document.getElementById(id).prepend(el('p', { class: kind || 'bad' }, message));
}

// ---- outbox --------------------------------------------------------------------------------

function parseMail(content) {
  const split = content.search(/\r?\n\r?\n/);
  const head = split < 0 ? content : content.slice(0, split);
  const body = split < 0 ? '' : content.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

async function loadOutbox() {
  let data;
  try {
    data = await api('/api/outbox');
  } catch (e) {
    alertIn('outbox-list', e.message);
    return;
  }
  document.getElementById('outbox-dir').textContent = data.dir;
  const list = document.getElementById('outbox-list');
  if (!data.mails.length) {
    list.replaceChildren(el('p', { class: 'hint' }, 'No e-mail yet.'));
    return;
  }
  list.replaceChildren(...data.mails.map((m) => {
    const { headers, body } = parseMail(m.content);
    return el('div', { class: 'mail', 'data-file': m.file },
      el('div', { class: 'subject' }, headers.subject || '(no subject)'),
      el('div', { class: 'headers' },
        el('div', {}, el('b', {}, 'From'), headers.from || ''),
        el('div', {}, el('b', {}, 'To'), headers.to || ''),
        el('div', {}, el('b', {}, 'Date'), headers.date || ''),
        el('div', {}, el('b', {}, 'File'), m.file)),
      el('pre', { class: 'mail-body' }, body));
  }));
}

// ---- send ----------------------------------------------------------------------------------

async function sendEvent(e) {
  e.preventDefault();
  const result = document.getElementById('send-result');
  result.replaceChildren('sending…');
  let out;
  try {
    out = await api('/api/put-event', {
      source: document.getElementById('send-source').value,
      detail_type: document.getElementById('send-detail-type').value,
      detail: document.getElementById('send-detail').value,
      bus: document.getElementById('send-bus').value || 'default',
    });
  } catch (err) {
    result.replaceChildren(el('p', { class: 'bad' }, err.message));
    return;
  }
  const entry = out.Entries[0] || {};
  if (entry.ErrorCode) {
    result.replaceChildren(el('p', { class: 'bad send-error' }, `${entry.ErrorCode}: ${entry.ErrorMessage || ''}`));
    return;
  }
  const parts = [el('p', { class: 'ok' }, 'Accepted: event ',
    el('a', { href: `#events/${encodeURIComponent(entry.EventId)}`, class: 'event-link' }, entry.EventId))];
  if (!out.routed.length) parts.push(el('p', { class: 'hint' }, 'No rule matched it.'));
  for (const r of out.routed) {
    parts.push(el('div', { class: 'routed' }, `rule ${r.rule} → ${shortArn(r.target)} `,
      el('span', { class: isGood(r.outcome) ? 'ok' : 'bad' }, r.outcome)));
  }
  result.replaceChildren(...parts);
}

async function testPattern(e) {
  e.preventDefault();
  const result = document.getElementById('pattern-result');
  try {
    const out = await api('/api/test-pattern', {
      pattern: document.getElementById('pattern-text').value,
      event: document.getElementById('pattern-event').value,
    });
    if (out.error) {
      result.replaceChildren(el('p', { class: 'bad' }, out.error));
      return;
    }
    result.replaceChildren(el('p', { class: out.result ? 'ok' : 'bad' }, out.result ? 'MATCH' : 'NO MATCH'),
      el('pre', {}, out.explanation));
  } catch (err) {
    result.replaceChildren(el('p', { class: 'bad' }, err.message));
  }
}

// ---- start ---------------------------------------------------------------------------------

async function start() {
  document.getElementById('pattern-event').value = JSON.stringify({
    version: '0', id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718', 'detail-type': 'Order Placed',
    source: 'com.example.orders', account: '000000000000', time: '2026-01-01T00:00:00Z',
    region: 'us-east-1', resources: [], detail: { amount: 12 },
  }, null, 2);
  document.getElementById('send-form').addEventListener('submit', sendEvent);
  document.getElementById('pattern-form').addEventListener('submit', testPattern);
  document.getElementById('event-filter').addEventListener('input', renderEvents);
  document.getElementById('event-scope').addEventListener('change', renderEvents);
  window.addEventListener('hashchange', showView);
  await refreshOverview();
  await loadGraph();
  const last = await loadActivity();
  connectStream(last);
  showView();
}

start().catch((e) => setStatus(`error: ${e.message}`, false));
