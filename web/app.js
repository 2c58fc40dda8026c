/* pushdesk demo dashboard: plain JavaScript against the REST API (/api/v1)
 * and the Socket.IO endpoint (/socket.io/) of the same origin. The
 * Socket.IO client is socket.io-client's browser bundle, which the broker
 * serves at /socket.io/socket.io.min.js (broker_path). Events: contract
 * sections 3.1 and 3.2. */
(() => {
  'use strict';

  const TOKEN_KEY = 'pushdesk.token';
  const API = '/api/v1';
  const SIO_PATH = '/socket.io/';
  const ACK_TIMEOUT = 10000;
  const TYPING_REPEAT_MS = 3000; // re-send typing:start at most this often
  const TYPING_IDLE_MS = 2500; // typing:stop after this much silence
  const TYPING_SHOW_MS = 6500; // hide someone's indicator without a typing:stop

  const $ = (id) => document.getElementById(id);

  // el('li', {class: 'x', dataset: {id}}, child, 'text', ...)
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'dataset') Object.assign(n.dataset, v);
      else if (k === 'text') n.textContent = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }

  const state = {
    token: null,
    me: null, // {id, org, role, name, email}
    socket: null,
    dash: null,
    connectedOnce: false,
    tickets: new Map(), // id -> ticket
    nextCursor: null,
    filter: '',
    unreadTickets: new Set(),
    current: null, // id of the open ticket
    joined: false,
    messages: [], // of the open ticket, oldest first
    delivered: new Map(), // message id -> delivered flag from the send ack
    readBy: new Map(), // user id -> message id (open ticket)
    typing: new Map(), // user id -> {name, timer}
    presence: new Map(), // user id -> {status, lastSeen}
    subscribed: new Set(), // user ids of presence:subscribe
    names: new Map(), // user id -> name
    roles: new Map(), // user id -> role
    customers: [], // admins: the org's customers, for the new ticket form
    notifications: [],
    unread: 0,
    seenEvents: new Set(),
    seenOrder: [],
    myStatus: 'online',
    focusedTicket: null,
    typingSentAt: 0,
    typingTimer: null,
    typingTicket: null,
    editing: null, // message id being edited
  };

  // ---- small helpers ------------------------------------------------------------

  function claimsOf(token) {
    try {
      const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = decodeURIComponent(Array.from(atob(b64), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
      return JSON.parse(json);
    } catch {
      return null;
    }
  }

  function timeShort(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    const now = new Date();
    const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    if (d.toDateString() === now.toDateString()) return hm;
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + hm;
  }

  function ago(iso) {
    const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (!Number.isFinite(s)) return '';
    if (s < 45) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return timeShort(iso);
  }

  function duration(sec) {
    sec = Number(sec) || 0;
    if (sec < 60) return sec + ' s';
    if (sec < 3600) return Math.floor(sec / 60) + ' min';
    if (sec < 86400) return Math.floor(sec / 3600) + ' h ' + Math.floor((sec % 3600) / 60) + ' min';
    return Math.floor(sec / 86400) + ' d';
  }

  const isStaff = () => state.me && (state.me.role === 'agent' || state.me.role === 'admin');
  const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : '');

  function nameOf(id) {
    if (!id) return '';
    if (state.me && id === state.me.id) return state.me.name ? state.me.name + ' (you)' : 'You';
    if (state.names.has(id)) return state.names.get(id);
    const t = state.tickets.get(state.current);
    if (t && t.customerId === id) return 'Customer ' + id.slice(0, 6);
    if (t && t.assigneeId === id) return 'Agent ' + id.slice(0, 6);
    return 'User ' + id.slice(0, 6);
  }

  // Names come from messages, typing events and (admins) the user list.
  let namesDirty = false;
  function learn(id, name, role) {
    if (!id) return;
    if (name && state.names.get(id) !== name) { state.names.set(id, name); namesDirty = true; }
    if (role) state.roles.set(id, role);
  }
  function refreshNames() {
    if (namesDirty) { namesDirty = false; renderTickets(); }
  }

  // Events from stored changes carry eventId: drop a duplicate.
  function fresh(p) {
    if (!p || typeof p !== 'object' || p.eventId === undefined || p.eventId === null) return true;
    const k = String(p.eventId);
    if (state.seenEvents.has(k)) return false;
    state.seenEvents.add(k);
    state.seenOrder.push(k);
    if (state.seenOrder.length > 5000) state.seenEvents.delete(state.seenOrder.shift());
    return true;
  }

  const userIdOf = (p) => (p && typeof p === 'object' ? p.userId || p.id : p);

  // ---- banner (API errors, socket error events) -------------------------------------

  let bannerTimer = null;
  function showError(err, context) {
    let text;
    if (err && typeof err === 'object') {
      const e = err.error && typeof err.error === 'object' ? err.error : err;
      text = (e.code ? e.code + ': ' : '') + (e.message || 'something went wrong');
      if (e.retryAfter) text += ` (retry in ${e.retryAfter} s)`;
    } else {
      text = String(err);
    }
    if (context) text = context + ' — ' + text;
    // the last errors, for whoever looks from the console (and the page test)
    (window.pushdeskErrors = window.pushdeskErrors || []).push(text);
    if (window.pushdeskErrors.length > 20) window.pushdeskErrors.shift();
    $('banner-text').textContent = text;
    $('banner').hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => { $('banner').hidden = true; }, 10000);
  }
  $('banner-close').addEventListener('click', () => { $('banner').hidden = true; });

  // ---- REST ----------------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { accept: 'application/json' };
    if (state.token) headers.authorization = 'Bearer ' + state.token;
    const opts = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, opts);
    } catch {
      throw Object.assign(new Error('the server cannot be reached'), { code: 'NETWORK' });
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const e = data && data.error ? data.error : { code: 'HTTP_' + res.status, message: res.statusText || 'request failed' };
      const err = Object.assign(new Error(e.message || 'request failed'), { code: e.code, status: res.status });
      if (res.status === 401 && state.token && path !== '/auth/login') {
        signOut('Your session has ended: sign in again.');
      }
      throw err;
    }
    return data;
  }

  const listOf = (d) => (Array.isArray(d) ? d : d && Array.isArray(d.data) ? d.data : []);

  // ---- sign in / out -------------------------------------------------------------

  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const btn = $('login-submit');
    $('login-error').hidden = true;
    btn.disabled = true;
    try {
      const r = await api('POST', '/auth/login', {
        email: $('login-email').value.trim(),
        password: $('login-password').value,
      });
      sessionStorage.setItem(TOKEN_KEY, r.access_token);
      $('login-password').value = '';
      await start(r.access_token);
    } catch (err) {
      $('login-error').textContent = (err.code ? err.code + ': ' : '') + err.message;
      $('login-error').hidden = false;
    } finally {
      btn.disabled = false;
    }
  });

  $('logout').addEventListener('click', () => signOut());

  function showLogin(message) {
    $('app').hidden = true;
    $('login-screen').hidden = false;
    if (message) {
      $('login-error').textContent = message;
      $('login-error').hidden = false;
    }
    $('login-email').focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (state.socket) { state.socket.removeAllListeners(); state.socket.disconnect(); }
    if (state.dash) { state.dash.removeAllListeners(); state.dash.disconnect(); }
    // A fresh page state: simplest is to reload without the token.
    state.token = null;
    state.socket = state.dash = null;
    if (message) sessionStorage.setItem('pushdesk.message', message);
    location.reload();
  }

  async function start(token) {
    const c = claimsOf(token);
    if (!c || !c.sub) throw Object.assign(new Error('the server answered with an unreadable token'), { code: 'BAD_TOKEN' });
    state.token = token;
    state.me = { id: c.sub, org: c.org, role: c.role, name: c.name || '', email: c.email || '' };
    try {
      const me = await api('GET', '/me');
      if (me) Object.assign(state.me, { name: me.name || state.me.name, email: me.email || state.me.email, role: me.role || state.me.role });
    } catch (err) {
      if (err.status === 401) return;
      showError(err, 'Loading your profile');
    }
    learn(state.me.id, state.me.name, state.me.role);
    $('me-name').textContent = state.me.name || state.me.email;
    $('me-role').textContent = state.me.role;
    $('login-screen').hidden = true;
    $('app').hidden = false;
    document.body.dataset.role = state.me.role;
    document.body.dataset.userId = state.me.id;

    const customerWrap = $('nt-customer-wrap');
    customerWrap.hidden = !isStaff();
    connect();
    if (state.me.role === 'admin') {
      $('metrics').hidden = false;
      connectDashboard();
      loadUsers();
    }
    await Promise.all([loadTickets(false), loadNotifications()]);
    const fromHash = ticketFromHash();
    if (fromHash) await openTicket(fromHash);
  }

  // ---- tickets -------------------------------------------------------------------

  async function loadTickets(more) {
    try {
      const q = new URLSearchParams({ limit: '50' });
      if (more && state.nextCursor) q.set('cursor', state.nextCursor);
      const d = await api('GET', '/tickets?' + q);
      if (!more) state.tickets.clear();
      for (const t of listOf(d)) state.tickets.set(t.id, { ...state.tickets.get(t.id), ...t });
      state.nextCursor = d && d.nextCursor ? d.nextCursor : null;
      renderTickets();
      for (const t of listOf(d).slice(0, 20)) learnCustomer(t);
    } catch (err) {
      if (err.status !== 401) showError(err, 'Loading tickets');
    }
  }

  async function loadUsers() {
    try {
      const users = listOf(await api('GET', '/users?limit=100'));
      for (const u of users) learn(u.id, u.name, u.role);
      state.customers = users.filter((u) => u.role === 'customer');
      const sel = $('nt-customer-select');
      sel.replaceChildren(el('option', { value: '' }, 'Myself'),
        ...state.customers.map((u) => el('option', { value: u.id }, `${u.name} <${u.email}>`)));
      if (state.customers.length) { sel.hidden = false; $('nt-customer').hidden = true; }
      renderTickets();
    } catch (err) {
      if (err.status !== 401) showError(err, 'Loading users');
    }
  }

  function sortedTickets() {
    return [...state.tickets.values()]
      .filter((t) => !state.filter || t.status === state.filter)
      .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  }

  function renderTickets(flashId) {
    const list = $('ticket-list');
    const items = sortedTickets().map((t) => {
      const who = isStaff() && t.customerId && t.customerId !== state.me.id ? state.names.get(t.customerId) : null;
      return el('li', {
        class: [t.id === state.current ? 'active' : '', state.unreadTickets.has(t.id) ? 'unread' : '', t.id === flashId ? 'flash' : ''].join(' ').trim() || null,
        dataset: { ticketId: t.id, status: t.status || '' },
        tabindex: '0',
        onclick: () => openTicket(t.id),
        onkeydown: (e) => { if (e.key === 'Enter') openTicket(t.id); },
      },
      el('span', { class: 't-subject', title: t.subject }, t.subject || '(no subject)'),
      el('span', { class: 't-time', title: t.updatedAt || t.createdAt }, ago(t.updatedAt || t.createdAt)),
      el('span', { class: 't-meta' },
        el('span', { class: 'pill', dataset: { status: t.status || '' } }, t.status || '?'),
        el('span', {}, cap(t.priority)),
        who ? el('span', {}, '· ' + who) : null,
        el('span', {}, '· ' + (!t.assigneeId ? 'unassigned' : t.assigneeId === state.me.id ? 'assigned to you'
          : state.names.has(t.assigneeId) ? '→ ' + state.names.get(t.assigneeId) : 'assigned'))));
    });
    list.replaceChildren(...items);
    $('ticket-empty').hidden = items.length > 0;
    $('ticket-more').hidden = !state.nextCursor;
  }
  setInterval(() => { if (state.me) renderTickets(); }, 60000);

  $('ticket-filter').addEventListener('change', (e) => { state.filter = e.target.value; renderTickets(); });
  $('ticket-more').addEventListener('click', () => loadTickets(true));

  // Staff see who opened a ticket: an agent cannot list users, so the name
  // comes from the ticket's first message (most tickets open with one; the
  // page posts it right after the ticket, so a ticket that arrives live may
  // have none yet: asked again twice, 1 s and 4 s later). Only while the
  // name is unknown, once per ticket.
  const askedNames = new Set();
  async function learnCustomer(t, retry = 0) {
    if (!isStaff() || !t || !t.customerId || state.names.has(t.customerId)) return;
    if (retry === 0 && askedNames.has(t.id)) return;
    askedNames.add(t.id);
    try {
      const msgs = listOf(await api('GET', '/tickets/' + encodeURIComponent(t.id) + '/messages?limit=1'));
      for (const m of msgs) learn(m.senderId, m.senderName, m.senderRole);
      refreshNames();
      if (!msgs.length && retry < 2) setTimeout(() => learnCustomer(t, retry + 1), retry ? 4000 : 1000);
    } catch { /* the list shows the ticket without a name */ }
  }

  function upsertTicket(t, flash) {
    if (!t || !t.id) return;
    const prev = state.tickets.get(t.id);
    state.tickets.set(t.id, { ...prev, ...t });
    renderTickets(flash ? t.id : undefined);
    if (t.id === state.current) renderTicketHead();
  }

  // ---- new ticket ------------------------------------------------------------------

  function showPane(which) {
    $('pane-empty').hidden = which !== 'empty';
    $('new-ticket').hidden = which !== 'new';
    $('ticket-view').hidden = which !== 'ticket';
  }

  $('new-ticket-button').addEventListener('click', () => {
    closeTicket();
    showPane('new');
    $('nt-subject').focus();
  });
  $('nt-cancel').addEventListener('click', () => { $('new-ticket').reset(); showPane('empty'); });

  $('new-ticket').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const btn = $('nt-submit');
    btn.disabled = true;
    try {
      const body = { subject: $('nt-subject').value.trim(), priority: $('nt-priority').value };
      if (isStaff()) {
        const cid = (!$('nt-customer-select').hidden ? $('nt-customer-select').value : $('nt-customer').value).trim();
        if (cid) body.customerId = cid;
      }
      const t = await api('POST', '/tickets', body);
      upsertTicket(t, true);
      const first = $('nt-message').value.trim();
      if (first) {
        try {
          await api('POST', `/tickets/${encodeURIComponent(t.id)}/messages`, { content: first });
        } catch (err) {
          showError(err, 'The ticket is open but its first message was not sent');
        }
      }
      $('new-ticket').reset();
      await openTicket(t.id);
    } catch (err) {
      if (err.status !== 401) showError(err, 'Creating the ticket');
    } finally {
      btn.disabled = false;
    }
  });

  // ---- the ticket view -------------------------------------------------------------

  function closeTicket() {
    const id = state.current;
    if (!id) return;
    stopTyping();
    if (state.socket && state.socket.connected) {
      if (state.focusedTicket) state.socket.emit('chat:blur');
      state.socket.emit('ticket:leave', id);
    }
    state.focusedTicket = null;
    unsubscribePresence();
    for (const t of state.typing.values()) clearTimeout(t.timer);
    state.typing.clear();
    state.current = null;
    state.joined = false;
    state.messages = [];
    state.readBy.clear();
    state.editing = null;
    $('ticket-view').dataset.joined = '0';
    $('ticket-view').dataset.ticketId = '';
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    renderTickets();
  }

  // #ticket/ID in the address opens that ticket (and survives a reload).
  function ticketFromHash() {
    const m = /^#ticket\/([0-9A-Za-z-]+)$/.exec(location.hash);
    return m ? m[1] : null;
  }
  window.addEventListener('hashchange', () => {
    const id = ticketFromHash();
    if (state.me && id && id !== state.current) openTicket(id);
  });

  async function openTicket(id) {
    if (state.current === id && !$('ticket-view').hidden) return;
    closeTicket();
    state.current = id;
    state.unreadTickets.delete(id);
    if (location.hash !== '#ticket/' + id) history.replaceState(null, '', '#ticket/' + id);
    const view = $('ticket-view');
    view.dataset.ticketId = id;
    view.dataset.loaded = '0';
    $('messages').replaceChildren();
    renderTicketHead();
    renderTyping();
    showPane('ticket');
    renderTickets();
    joinTicket();
    try {
      const t = await api('GET', `/tickets/${encodeURIComponent(id)}`);
      if (state.current !== id) return;
      upsertTicket(t);
    } catch (err) {
      if (err.status !== 401) showError(err, 'Opening the ticket');
    }
    await loadMessages(id);
    updateFocus();
    $('composer-input').focus();
  }

  async function loadMessages(id) {
    const all = [];
    let after = null;
    try {
      for (let page = 0; page < 10; page++) {
        const q = new URLSearchParams({ limit: '100' });
        if (after) q.set('after', after);
        const d = await api('GET', `/tickets/${encodeURIComponent(id)}/messages?${q}`);
        const rows = listOf(d);
        all.push(...rows);
        after = d && d.nextCursor ? d.nextCursor : null;
        if (!after || rows.length === 0) break;
      }
    } catch (err) {
      if (err.status !== 401) showError(err, 'Loading messages');
    }
    if (state.current !== id) return;
    // Messages pushed while loading stay; the loaded ones come first.
    const have = new Set(all.map((m) => m.id));
    state.messages = all.concat(state.messages.filter((m) => !have.has(m.id)));
    for (const m of state.messages) learn(m.senderId, m.senderName, m.senderRole);
    $('ticket-view').dataset.loaded = '1';
    renderMessages(true);
    renderPeople();
    refreshNames();
  }

  function joinTicket() {
    const id = state.current;
    const s = state.socket;
    if (!id || !s || !s.connected) return;
    s.timeout(ACK_TIMEOUT).emit('ticket:join', id, (err, res) => {
      if (state.current !== id) return;
      if (err) return showError({ code: 'TIMEOUT', message: 'no answer to ticket:join' }, 'Joining the ticket chat');
      if (res && res.error) return showError(res.error, 'Joining the ticket chat');
      state.joined = true;
      $('ticket-view').dataset.joined = '1';
      updateFocus(true);
    });
  }

  function renderTicketHead() {
    const t = state.tickets.get(state.current);
    if (!t) return;
    $('tv-subject').textContent = t.subject || '(no subject)';
    $('tv-status').textContent = t.status || '';
    $('tv-status').dataset.status = t.status || '';
    $('tv-priority').textContent = t.priority || '';
    $('tv-priority').dataset.priority = t.priority || '';
    $('tv-id').textContent = '#' + t.id.slice(0, 8);
    $('tv-id').title = t.id;
    $('tv-staff').hidden = !isStaff();
    if (isStaff()) {
      $('tv-status-select').value = t.status || 'open';
      $('tv-priority-select').value = t.priority || 'normal';
      $('tv-assign').hidden = t.assigneeId === state.me.id;
    }
    renderPeople();
  }

  async function patchTicket(body) {
    const id = state.current;
    if (!id) return;
    try {
      upsertTicket(await api('PATCH', `/tickets/${encodeURIComponent(id)}`, body));
    } catch (err) {
      if (err.status !== 401) showError(err, 'Updating the ticket');
      renderTicketHead();
    }
  }
  $('tv-status-select').addEventListener('change', (e) => patchTicket({ status: e.target.value }));
  $('tv-priority-select').addEventListener('change', (e) => patchTicket({ priority: e.target.value }));
  $('tv-assign').addEventListener('click', () => patchTicket({ assigneeId: state.me.id }));

  // The ticket's people: its customer, its assignee, whoever wrote or typed.
  function participants() {
    const t = state.tickets.get(state.current);
    const ids = new Set();
    if (t && t.customerId) ids.add(t.customerId);
    if (t && t.assigneeId) ids.add(t.assigneeId);
    for (const m of state.messages) if (m.senderId) ids.add(m.senderId);
    for (const id of state.typing.keys()) ids.add(id);
    return [...ids];
  }

  function roleLabel(id) {
    const t = state.tickets.get(state.current);
    const r = state.roles.get(id);
    if (t && t.customerId === id) return 'customer';
    if (t && t.assigneeId === id) return 'assignee';
    return r || '';
  }

  function renderPeople() {
    if (!state.current) return;
    const ids = participants();
    $('tv-people').replaceChildren(el('span', { class: 'muted' }, 'People:'), ...ids.map((id) =>
      el('span', { class: 'person', dataset: { userId: id } },
        presenceDot(id),
        el('span', { class: 'p-name' }, nameOf(id)),
        roleLabel(id) ? el('span', { class: 'p-role' }, roleLabel(id)) : null)));
    subscribePresence(ids.filter((id) => id !== state.me.id));
  }

  // ---- messages --------------------------------------------------------------------

  function myLastIndex() {
    for (let i = state.messages.length - 1; i >= 0; i--) if (state.messages[i].senderId === state.me.id) return i;
    return -1;
  }

  // "seen" when someone else read a message at or after my last one.
  function receiptFor(i) {
    const m = state.messages[i];
    const readers = [];
    for (const [uid, mid] of state.readBy) {
      if (uid === state.me.id) continue;
      const at = state.messages.findIndex((x) => x.id === mid);
      if (at >= i) readers.push(uid);
    }
    if (readers.length) return { kind: 'seen', text: 'Seen by ' + readers.map(nameOf).join(', ') };
    if (state.delivered.get(m.id)) return { kind: 'delivered', text: 'Delivered' };
    return { kind: 'sent', text: 'Sent' };
  }

  function renderMessages(scroll) {
    const box = $('messages');
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const last = myLastIndex();
    const items = state.messages.map((m, i) => {
      const mine = m.senderId === state.me.id;
      const edited = m.updatedAt && m.createdAt && m.updatedAt !== m.createdAt;
      const r = i === last ? receiptFor(i) : null;
      let body;
      if (state.editing === m.id) {
        const ta = el('textarea', { rows: '3' });
        ta.value = m.content;
        body = el('div', { class: 'edit-box' }, ta, el('div', {},
          el('button', { type: 'button', class: 'ghost small', onclick: () => { state.editing = null; renderMessages(); } }, 'Cancel'),
          el('button', { type: 'button', class: 'primary small', onclick: () => saveEdit(m.id, ta.value) }, 'Save')));
        setTimeout(() => ta.focus(), 0);
      } else {
        body = el('div', { class: 'm-body' }, m.content);
      }
      return el('li', { class: 'msg' + (mine ? ' mine' : ''), dataset: { id: m.id, senderId: m.senderId || '' } },
        el('div', { class: 'm-head' },
          el('span', { class: 'm-name' }, mine ? 'You' : (m.senderName || nameOf(m.senderId))),
          m.senderRole && !mine ? el('span', {}, m.senderRole) : null,
          el('time', { datetime: m.createdAt, title: m.createdAt }, timeShort(m.createdAt))),
        body,
        el('div', { class: 'm-foot' },
          edited ? el('span', { class: 'edited' }, 'edited') : null,
          mine && state.editing !== m.id ? el('button', { type: 'button', class: 'link small', onclick: () => { state.editing = m.id; renderMessages(); } }, 'Edit') : null,
          r ? el('span', { class: 'receipt', dataset: { receipt: r.kind } }, r.text) : null));
    });
    if (!items.length && $('ticket-view').dataset.loaded === '1') items.push(el('li', { class: 'empty muted' }, 'No messages yet. Say hello.'));
    box.replaceChildren(...items);
    if (scroll || nearBottom) box.scrollTop = box.scrollHeight;
  }

  function addMessage(m) {
    if (!m || !m.id) return;
    learn(m.senderId, m.senderName, m.senderRole);
    const i = state.messages.findIndex((x) => x.id === m.id);
    if (i >= 0) state.messages[i] = { ...state.messages[i], ...m };
    else state.messages.push(m);
    // Someone who writes has stopped typing.
    if (state.typing.has(m.senderId)) { clearTimeout(state.typing.get(m.senderId).timer); state.typing.delete(m.senderId); renderTyping(); }
    renderMessages(m.senderId === state.me.id);
    renderPeople();
    refreshNames();
  }

  async function saveEdit(id, content) {
    content = content.trim();
    if (!content) return;
    try {
      const m = await api('PATCH', `/messages/${encodeURIComponent(id)}`, { content });
      state.editing = null;
      if (m && m.ticketId === state.current) addMessage(m);
      else renderMessages();
    } catch (err) {
      if (err.status !== 401) showError(err, 'Editing the message');
    }
  }

  // Sending: message:send with an acknowledgement.
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  $('composer-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
  });

  function send() {
    const input = $('composer-input');
    const content = input.value.trim();
    const id = state.current;
    const s = state.socket;
    if (!content || !id) return;
    if (!s || !s.connected) {
      showError({ code: 'OFFLINE', message: 'the live connection is down; the message was not sent' });
      return;
    }
    stopTyping();
    $('composer-send').disabled = true;
    s.timeout(ACK_TIMEOUT).emit('message:send', { ticketId: id, content }, (err, res) => {
      $('composer-send').disabled = false;
      if (err) return showError({ code: 'TIMEOUT', message: 'no answer to message:send' }, 'Sending');
      if (!res || res.error || !res.ok) return showError(res && res.error ? res.error : { code: 'ERROR', message: 'message:send failed' }, 'Sending');
      if (input.value.trim() === content) input.value = '';
      if (res.message) {
        state.delivered.set(res.message.id, !!res.delivered);
        if (res.message.ticketId === state.current || state.current === id) addMessage(res.message);
      }
    });
  }

  // ---- typing ------------------------------------------------------------------------

  $('composer-input').addEventListener('input', () => {
    const s = state.socket;
    if (!state.current || !s || !s.connected) return;
    if (!$('composer-input').value.trim()) return stopTyping();
    const now = Date.now();
    if (state.typingTicket !== state.current || now - state.typingSentAt > TYPING_REPEAT_MS) {
      s.emit('typing:start', state.current);
      state.typingSentAt = now;
      state.typingTicket = state.current;
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });
  $('composer-input').addEventListener('blur', () => stopTyping());

  function stopTyping() {
    clearTimeout(state.typingTimer);
    state.typingTimer = null;
    if (state.typingTicket && state.socket && state.socket.connected) state.socket.emit('typing:stop', state.typingTicket);
    state.typingTicket = null;
    state.typingSentAt = 0;
  }

  function renderTyping() {
    const box = $('typing');
    const names = [...state.typing.entries()].map(([id, t]) => t.name || nameOf(id));
    box.hidden = names.length === 0;
    box.dataset.userIds = [...state.typing.keys()].join(',');
    if (names.length === 1) box.textContent = `${names[0]} is typing`;
    else if (names.length > 1) box.textContent = `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing`;
    else box.textContent = '';
  }

  // ---- read receipts: chat:focus while the view is open and the window focused ---------

  function updateFocus(force) {
    const s = state.socket;
    if (!s || !s.connected) return;
    const want = state.current && state.joined && document.visibilityState === 'visible' && document.hasFocus() ? state.current : null;
    if (want && (want !== state.focusedTicket || force)) {
      s.emit('chat:focus', { ticketId: want });
      state.focusedTicket = want;
    } else if (!want && state.focusedTicket) {
      s.emit('chat:blur');
      state.focusedTicket = null;
    }
  }
  window.addEventListener('focus', () => updateFocus());
  window.addEventListener('blur', () => updateFocus());
  document.addEventListener('visibilitychange', () => updateFocus());

  // ---- presence ------------------------------------------------------------------------

  function statusOf(id) {
    if (state.me && id === state.me.id) return state.socket && state.socket.connected ? state.myStatus : 'offline';
    const p = state.presence.get(id);
    return p ? p.status : 'offline';
  }

  function presenceDot(id) {
    const st = statusOf(id);
    return el('span', { class: 'dot', dataset: { presenceUser: id, status: st }, title: cap(st) });
  }

  function setPresence(id, status, lastSeen) {
    if (!id) return;
    const prev = state.presence.get(id) || {};
    state.presence.set(id, { status: status || 'offline', lastSeen: lastSeen || prev.lastSeen });
    paintPresence();
  }

  function paintPresence() {
    for (const d of document.querySelectorAll('[data-presence-user]')) {
      const st = statusOf(d.dataset.presenceUser);
      if (d.dataset.status !== st) d.dataset.status = st;
      const p = state.presence.get(d.dataset.presenceUser);
      d.title = cap(st) + (st === 'offline' && p && p.lastSeen ? ' — last seen ' + ago(p.lastSeen) : '');
    }
    $('my-dot').dataset.status = statusOf(state.me ? state.me.id : '');
  }

  async function subscribePresence(ids) {
    const add = ids.filter((id) => !state.subscribed.has(id));
    if (!add.length) return;
    for (const id of add) state.subscribed.add(id);
    if (state.socket && state.socket.connected) state.socket.emit('presence:subscribe', { userIds: add });
    // The REST answer fills the dots at once (and when the socket is down).
    try {
      const rows = listOf(await api('GET', '/presence?userIds=' + add.map(encodeURIComponent).join(',')));
      for (const r of rows) {
        // a socket event may have come first: it wins
        if (!state.presence.has(r.userId)) setPresence(r.userId, r.status, r.lastSeen);
      }
    } catch (err) {
      if (err.status !== 401) showError(err, 'Loading presence');
    }
  }

  function unsubscribePresence() {
    if (!state.subscribed.size) return;
    if (state.socket && state.socket.connected) state.socket.emit('presence:unsubscribe', { userIds: [...state.subscribed] });
    state.subscribed.clear();
  }

  $('my-status').addEventListener('change', (e) => {
    const status = e.target.value;
    state.myStatus = status;
    paintPresence();
    if (state.socket && state.socket.connected) state.socket.emit('presence:status', { status });
  });

  // ---- notifications ------------------------------------------------------------------

  async function loadNotifications() {
    try {
      const d = await api('GET', '/notifications');
      state.notifications = listOf(d);
      const unread = state.notifications.filter((n) => !n.readAt).length;
      if (state.unread === 0) setUnread(unread);
      renderNotifications();
    } catch (err) {
      if (err.status !== 401) showError(err, 'Loading notifications');
    }
  }

  function setUnread(n) {
    state.unread = Math.max(0, Number(n) || 0);
    const b = $('notif-badge');
    b.textContent = state.unread > 99 ? '99+' : String(state.unread);
    b.hidden = state.unread === 0;
    document.title = (state.unread ? `(${state.unread}) ` : '') + 'pushdesk';
  }

  function renderNotifications() {
    const list = $('notif-list');
    if (!state.notifications.length) {
      list.replaceChildren(el('li', { class: 'empty' }, 'Nothing yet.'));
      return;
    }
    list.replaceChildren(...state.notifications.slice(0, 50).map((n) =>
      el('li', { class: n.readAt ? '' : 'unread', dataset: { id: n.id }, onclick: () => openNotification(n) },
        el('div', { class: 'n-title' }, n.title || n.type || 'Notification'),
        n.message ? el('div', {}, n.message) : null,
        el('div', { class: 'n-time' }, ago(n.createdAt)))));
  }

  async function markRead(n) {
    if (n.readAt) return;
    n.readAt = new Date().toISOString();
    renderNotifications();
    if (state.socket && state.socket.connected) {
      state.socket.emit('notification:markRead', { id: n.id });
    } else {
      try { await api('POST', `/notifications/${encodeURIComponent(n.id)}/read`); } catch (err) { if (err.status !== 401) showError(err); }
    }
    setUnread(state.unread - 1); // notification:count corrects it
  }

  function openNotification(n) {
    markRead(n);
    $('notif-panel').hidden = true;
    const tid = n.data && (n.data.ticketId || n.data.ticket_id);
    if (tid) openTicket(tid);
  }

  $('notif-button').addEventListener('click', (e) => {
    e.stopPropagation();
    const p = $('notif-panel');
    p.hidden = !p.hidden;
    if (!p.hidden) { renderNotifications(); loadNotifications(); }
  });
  document.addEventListener('click', (e) => {
    if (!$('notif-panel').hidden && !e.target.closest('.notif-wrap')) $('notif-panel').hidden = true;
  });
  $('notif-readall').addEventListener('click', async () => {
    for (const n of state.notifications) if (!n.readAt) n.readAt = new Date().toISOString();
    renderNotifications();
    setUnread(0);
    if (state.socket && state.socket.connected) state.socket.emit('notification:markAllRead');
    else {
      try { await api('POST', '/notifications/read-all'); } catch (err) { if (err.status !== 401) showError(err); }
    }
  });

  function toast(n) {
    const t = el('div', { class: 'toast', role: 'status', onclick: () => { t.remove(); openNotification(n); } },
      el('div', { class: 'n-title' }, n.title || n.type || 'Notification'),
      n.message ? el('div', { class: 'n-body' }, n.message) : null);
    $('toasts').append(t);
    while ($('toasts').children.length > 4) $('toasts').firstElementChild.remove();
    setTimeout(() => t.remove(), 7000);
  }

  // ---- the live connection --------------------------------------------------------------

  function setConn(st, text) {
    $('conn').dataset.state = st;
    $('conn').textContent = text;
    paintPresence();
  }

  function connect() {
    if (typeof io !== 'function') {
      setConn('error', 'no live connection');
      showError({ code: 'CLIENT_MISSING', message: '/socket.io/socket.io.min.js did not load (is the broker running?)' });
      return;
    }
    const s = io({ path: SIO_PATH, auth: { token: state.token }, closeOnBeforeunload: true });
    state.socket = s;

    s.on('connect', () => {
      setConn('live', 'live');
      const again = state.connectedOnce;
      state.connectedOnce = true;
      if (state.myStatus !== 'online') s.emit('presence:status', { status: state.myStatus });
      if (state.current) {
        const ids = [...state.subscribed];
        if (ids.length) s.emit('presence:subscribe', { userIds: ids });
        state.joined = false;
        state.focusedTicket = null;
        joinTicket();
      }
      if (again) { // catch up with what happened while away
        loadTickets(false);
        if (state.current) loadMessages(state.current);
      }
    });
    s.on('disconnect', (reason) => {
      setConn('connecting', reason === 'io client disconnect' ? 'offline' : 'reconnecting…');
      state.joined = false;
      state.focusedTicket = null;
      $('ticket-view').dataset.joined = '0';
    });
    s.on('connect_error', (err) => {
      const code = err && err.message;
      if (code === 'AUTH_TOKEN_EXPIRED' || code === 'AUTH_TOKEN_INVALID' || code === 'AUTH_TOKEN_MISSING') {
        signOut(code === 'AUTH_TOKEN_EXPIRED' ? 'Your session has expired: sign in again.' : 'Sign in again (' + code + ').');
        return;
      }
      setConn('error', 'offline');
      showError({ code: 'CONNECT_ERROR', message: code || 'cannot connect' }, 'Live connection');
      // A refusal by the server is not retried by the client: retry later.
      if (!s.active) setTimeout(() => { if (state.socket === s && !s.connected) s.connect(); }, 5000);
    });
    s.on('error', (e) => showError(e));

    // presence
    s.on('presence:sync', (p) => {
      const ids = Array.isArray(p) ? p : p && Array.isArray(p.userIds) ? p.userIds : [];
      const online = new Set(ids.map(userIdOf));
      for (const [id, v] of state.presence) if (!online.has(id) && v.status !== 'offline') state.presence.set(id, { ...v, status: 'offline' });
      for (const id of online) {
        const v = state.presence.get(id);
        if (!v || v.status === 'offline') state.presence.set(id, { ...v, status: 'online' });
      }
      paintPresence();
    });
    s.on('user:online', (p) => {
      const id = userIdOf(p);
      const v = state.presence.get(id);
      setPresence(id, v && v.status !== 'offline' ? v.status : (p && p.status) || 'online');
    });
    s.on('user:offline', (p) => setPresence(userIdOf(p), 'offline', p && p.lastSeen ? p.lastSeen : new Date().toISOString()));
    s.on('presence:update', (p) => {
      if (!p || !p.userId) return;
      if (p.userId === state.me.id && ['online', 'away', 'busy'].includes(p.status)) {
        state.myStatus = p.status;
        $('my-status').value = p.status;
      }
      setPresence(p.userId, p.status, p.lastSeen);
    });
    s.on('presence:list', (rows) => {
      for (const r of listOf(rows)) setPresence(r.userId, r.status, r.lastSeen);
    });

    // tickets
    s.on('ticket:created', (t) => { if (fresh(t)) { upsertTicket(t, true); learnCustomer(t); } });
    s.on('ticket:updated', (t) => { if (fresh(t)) upsertTicket(t, true); });
    s.on('ticket:assigned', (p) => {
      if (!fresh(p) || !p || !p.ticketId) return;
      if (state.tickets.has(p.ticketId)) upsertTicket({ id: p.ticketId, assigneeId: p.assigneeId });
      if (p.assigneeId === state.me.id && p.assignedBy !== state.me.id) {
        const t = state.tickets.get(p.ticketId);
        toast({ title: 'Ticket assigned to you', message: t ? t.subject : p.ticketId, data: { ticketId: p.ticketId } });
      }
    });

    // chat
    s.on('message:new', (m) => {
      if (!fresh(m) || !m) return;
      if (m.ticketId === state.current) {
        addMessage(m);
      } else if (m.senderId !== state.me.id && state.tickets.has(m.ticketId)) {
        state.unreadTickets.add(m.ticketId);
        renderTickets();
      }
    });
    s.on('message:updated', (m) => {
      if (fresh(m) && m && m.ticketId === state.current) addMessage(m);
    });
    s.on('message:read', (p) => {
      if (!fresh(p) || !p || p.ticketId !== state.current || !p.userId) return;
      state.readBy.set(p.userId, p.messageId);
      renderMessages();
    });
    s.on('typing:start', (p) => {
      if (!p || p.ticketId !== state.current || p.userId === state.me.id) return;
      learn(p.userId, p.userName);
      const prev = state.typing.get(p.userId);
      if (prev) clearTimeout(prev.timer);
      const timer = setTimeout(() => { state.typing.delete(p.userId); renderTyping(); }, TYPING_SHOW_MS);
      state.typing.set(p.userId, { name: p.userName, timer });
      renderTyping();
      if (!prev) renderPeople();
    });
    s.on('typing:stop', (p) => {
      if (!p || p.ticketId !== state.current) return;
      const prev = state.typing.get(p.userId);
      if (prev) clearTimeout(prev.timer);
      state.typing.delete(p.userId);
      renderTyping();
    });

    // notifications
    s.on('notification', (n) => {
      if (!fresh(n) || !n) return;
      if (!state.notifications.some((x) => x.id === n.id)) state.notifications.unshift(n);
      setUnread(state.unread + 1); // notification:count follows and corrects it
      renderNotifications();
      toast(n);
    });
    s.on('notification:count', (p) => setUnread(p && p.unread));

    // A closed tab goes offline at once rather than after the ping timeout.
    window.addEventListener('pagehide', () => { if (state.socket) state.socket.disconnect(); });
  }

  // ---- the admins' live metrics (namespace /dashboard) -------------------------------------

  function connectDashboard() {
    if (typeof io !== 'function') return;
    const d = io('/dashboard', { path: SIO_PATH, auth: { token: state.token } });
    state.dash = d;
    let last = 0;
    const stamp = () => { last = Date.now(); $('metrics-state').textContent = 'updated just now'; $('metrics').dataset.live = '1'; };
    setInterval(() => {
      if (last) $('metrics-state').textContent = 'updated ' + Math.round((Date.now() - last) / 1000) + ' s ago';
    }, 5000);
    const put = (prefix, obj) => {
      if (!obj || typeof obj !== 'object') return;
      for (const [k, v] of Object.entries(obj)) {
        const n = document.querySelector(`[data-metric="${prefix}.${k}"]`);
        if (n) n.textContent = k === 'oldestWaitingSeconds' ? duration(v) : String(v);
      }
      stamp();
    };
    d.on('connect', () => { $('metrics-state').textContent = 'connected'; });
    d.on('disconnect', () => { $('metrics-state').textContent = 'reconnecting…'; $('metrics').dataset.live = '0'; });
    d.on('connect_error', (err) => {
      $('metrics-state').textContent = 'unavailable: ' + (err && err.message);
      if (!d.active) setTimeout(() => { if (state.dash === d && !d.connected) d.connect(); }, 10000);
    });
    d.on('error', (e) => showError(e, 'Metrics'));
    d.on('metrics:tickets', (m) => put('tickets', m));
    d.on('metrics:queue', (m) => put('queue', m));
    d.on('metrics:agents', (m) => put('agents', m));
  }

  // ---- boot -------------------------------------------------------------------------------

  async function boot() {
    const msg = sessionStorage.getItem('pushdesk.message');
    sessionStorage.removeItem('pushdesk.message');
    const token = sessionStorage.getItem(TOKEN_KEY);
    const c = token && claimsOf(token);
    if (c && (!c.exp || c.exp * 1000 > Date.now())) {
      try {
        await start(token);
        return;
      } catch (err) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin((err.code ? err.code + ': ' : '') + err.message);
        return;
      }
    }
    if (token) sessionStorage.removeItem(TOKEN_KEY);
    showLogin(msg || (token ? 'Your session has expired: sign in again.' : ''));
  }
  boot();
})();
