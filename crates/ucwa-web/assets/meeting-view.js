// Draws a meeting (see meeting.js) into the page: joining, the lobby wait, the meeting itself
// (roster, lobby panel for leaders, chat) and the end. Lists are redrawn from the state; the
// element that had keyboard focus gets it back (by its data-focus-key) so that keyboard users
// keep their place while events arrive.

import { isLeader, lobby, roster } from './meeting.js';

/** Builds an element: h('button', { type: 'button', onclick }, 'Text'). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** 83000 -> "1:23". */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`
    : `${m}:${String(s % 60).padStart(2, '0')}`;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** What happened, in words, from the reason the server gave. */
export function endText(ended) {
  const r = ended?.reason;
  const key = r ? `${r.code}/${r.subcode}` : '';
  switch (key) {
    case 'Forbidden/Denied':
      return ['You were not let in', 'A leader of the meeting declined your request to join. If you think this is a mistake, ask the organizer, then join again.'];
    case 'Timeout/Timeout':
      return ['Nobody let you in', 'You waited in the lobby, but nobody let you in in time. You can join again and wait once more.'];
    case 'LocalFailure/Canceled':
      return ['You stopped waiting', 'You left the lobby before anyone let you in. You can join again whenever you like.'];
    case 'Informational/Ejected':
      return ['You were removed from the meeting', 'A leader of the meeting removed you. Ask the organizer if you need to rejoin.'];
    case 'RemoteFailure/Ended':
      return ['The meeting has ended', 'The organizer ended or deleted this meeting. Ask the organizer for a new link if it continues elsewhere.'];
    case '':
      return ended?.leftByUs ? ['You left the meeting', 'You can join again while the meeting goes on.']
        : ['The meeting is over for you', 'The server ended your connection to this meeting. You can try to join again.'];
    default:
      return ['You are no longer in the meeting', `${r.message || 'The server ended the connection.'} You can try to join again.`];
  }
}

const ROLE = { Leader: 'Leader', Attendee: 'Attendee' };

export class MeetingView {
  /**
   * @param root the element to draw into
   * @param actions { cancel, leave, act(href, label), send(text), again, againLabel }
   */
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    this.phase = null;
    this.model = null;
    this.baseTitle = document.title;
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  destroy() {
    clearInterval(this.ticker);
    document.title = this.baseTitle;
  }

  render(m) {
    this.model = m;
    if (m.phase !== this.phase) {
      this.phase = m.phase;
      this.root.replaceChildren(this.skeleton(m));
      this.root.querySelector('h1, h2')?.focus({ preventScroll: false });
    }
    if (m.phase === 'meeting') this.fill(m);
    if (m.phase === 'lobby' || m.phase === 'joining') this.fillWaiting(m);
    this.title(m);
    this.tick();
  }

  skeleton(m) {
    const subject = m.subject || 'Online meeting';
    switch (m.phase) {
      case 'joining':
        return h('section', { class: 'card center', 'aria-labelledby': 'phase-title' },
          h('h1', { id: 'phase-title', tabindex: '-1' }, subject),
          h('p', { class: 'lead', id: 'joining-state' }, 'Joining the meeting…'),
          h('button', { type: 'button', class: 'secondary', id: 'cancel', onclick: () => this.actions.cancel() }, 'Cancel'));
      case 'lobby':
        return h('section', { class: 'card center waiting', 'aria-labelledby': 'phase-title' },
          h('p', { class: 'eyebrow' }, subject),
          h('h1', { id: 'phase-title', tabindex: '-1' }, 'Waiting for someone to let you in'),
          h('p', { class: 'lead' }, 'You are in the lobby. A leader of the meeting can let you in.'),
          h('p', { class: 'timer' }, 'Time waited: ', h('span', { id: 'waited' }, '0:00')),
          h('button', { type: 'button', class: 'secondary', id: 'cancel', onclick: () => this.actions.cancel() }, 'Cancel'));
      case 'ended': {
        const [title, text] = endText(m.ended);
        return h('section', { class: 'card center ended', 'aria-labelledby': 'phase-title' },
          h('p', { class: 'eyebrow' }, subject),
          h('h1', { id: 'phase-title', tabindex: '-1' }, title),
          h('p', { class: 'lead', id: 'end-reason' }, text),
          h('button', { type: 'button', id: 'again', onclick: () => this.actions.again() }, this.actions.againLabel));
      }
      default:
        return this.meetingSkeleton(subject);
    }
  }

  meetingSkeleton(subject) {
    const input = h('input', { id: 'chat-input', name: 'message', autocomplete: 'off', maxlength: '4000', required: true });
    const form = h('form', { class: 'chat-form', onsubmit: (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = '';
      this.actions.send(text);
    } },
    h('label', { for: 'chat-input' }, 'Message'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', id: 'send' }, 'Send')));
    return h('div', { class: 'meeting' },
      h('div', { class: 'meeting-head' },
        h('div', {},
          h('h1', { id: 'phase-title', tabindex: '-1' }, subject),
          h('p', { class: 'muted', id: 'meeting-state' }, '')),
        h('button', { type: 'button', class: 'danger', id: 'leave', onclick: () => this.actions.leave() }, 'Leave')),
      h('div', { class: 'meeting-grid' },
        h('section', { id: 'lobby-panel', class: 'card', 'aria-labelledby': 'lobby-title', hidden: true },
          h('div', { class: 'panel-head' },
            h('h2', { id: 'lobby-title', tabindex: '-1' }, 'Lobby'),
            h('button', { type: 'button', class: 'secondary', id: 'admit-all', dataset: { focusKey: 'admit-all' },
              onclick: () => lobby(this.model).forEach((p) => p.links.admit && this.actions.act(p.links.admit, `Admit ${p.name}`)) }, 'Admit all')),
          h('ul', { id: 'lobby-list', class: 'people' })),
        h('section', { class: 'card', 'aria-labelledby': 'roster-title' },
          h('h2', { id: 'roster-title', tabindex: '-1' }, 'People'),
          h('ul', { id: 'roster-list', class: 'people' })),
        h('section', { class: 'card chat', 'aria-labelledby': 'chat-title' },
          h('h2', { id: 'chat-title' }, 'Chat'),
          h('div', { role: 'log', 'aria-live': 'polite', 'aria-label': 'Chat messages', class: 'chat-log-box' },
            h('ol', { id: 'chat-log', class: 'chat-log' })),
          h('p', { id: 'chat-state', class: 'muted' }, ''),
          form)));
  }

  fillWaiting(m) {
    const state = this.root.querySelector('#joining-state');
    if (state) state.textContent = m.invitation ? `Joining the meeting… (${m.conversation?.state ?? m.invitation.state})` : 'Joining the meeting…';
    const cancel = this.root.querySelector('#cancel');
    if (cancel) cancel.disabled = !m.invitation?.cancel;
  }

  fill(m) {
    const people = roster(m);
    const leader = isLeader(m);
    this.root.querySelector('#meeting-state').textContent =
      `${people.length} ${people.length === 1 ? 'person' : 'people'} in the meeting · you are ${leader ? 'a leader' : 'an attendee'}`;
    const focused = document.activeElement?.dataset?.focusKey;
    const redrawn = [];
    const lobbyPanel = this.root.querySelector('#lobby-panel');
    const waiting = lobby(m);
    lobbyPanel.hidden = !leader;
    if (leader) {
      this.root.querySelector('#lobby-title').textContent = `Lobby (${waiting.length})`;
      this.root.querySelector('#admit-all').hidden = waiting.length < 2;
      const list = this.root.querySelector('#lobby-list');
      list.replaceChildren(...(waiting.length ? waiting.map((p) => this.lobbyItem(p))
        : [h('li', { class: 'empty' }, 'Nobody is waiting.')]));
      redrawn.push(list);
    }
    const rosterList = this.root.querySelector('#roster-list');
    this.root.querySelector('#roster-title').textContent = `People (${people.length})`;
    rosterList.replaceChildren(...people.map((p) => this.rosterItem(p)));
    redrawn.push(rosterList);
    this.fillChat(m);
    if (focused && !document.activeElement?.dataset?.focusKey) {
      const again = this.root.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`);
      // The button that had focus is gone (its person left the list): focus the list's heading.
      (again ?? (focused.startsWith('lobby:') ? this.root.querySelector('#lobby-title') : this.root.querySelector('#roster-title')))?.focus();
    }
  }

  lobbyItem(p) {
    const button = (label, rel, cls) => p.links[rel] && h('button', {
      type: 'button', class: cls, 'aria-label': `${label} ${p.name}`, dataset: { focusKey: `lobby:${rel}:${p.href}` },
      onclick: () => this.actions.act(p.links[rel], `${label} ${p.name}`),
    }, label);
    return h('li', { class: 'person' },
      h('span', { class: 'who' }, h('span', { class: 'name' }, p.name),
        h('span', { class: 'muted small' }, p.anonymous ? 'Guest · ' : '', 'waiting ', h('span', { class: 'since', dataset: { since: String(p.since) } }, duration(Date.now() - p.since)))),
      h('span', { class: 'actions' }, button('Admit', 'admit', ''), button('Reject', 'reject', 'secondary')));
  }

  rosterItem(p) {
    const badges = [];
    if (p.organizer) badges.push('Organizer');
    else badges.push(ROLE[p.role] ?? p.role);
    if (p.anonymous) badges.push('Guest');
    const button = (label, rel, cls) => !p.local && p.links[rel] && h('button', {
      type: 'button', class: cls, 'aria-label': `${label} ${p.name}`, dataset: { focusKey: `roster:${rel}:${p.href}` },
      onclick: () => this.actions.act(p.links[rel], `${label} ${p.name}`),
    }, label);
    return h('li', { class: 'person' },
      h('span', { class: 'who' }, h('span', { class: 'name' }, p.name, p.local ? ' (you)' : ''),
        h('span', { class: 'badges' }, badges.map((b) => h('span', { class: `badge ${b.toLowerCase()}` }, b)))),
      h('span', { class: 'actions' }, button('Promote', 'promote', 'secondary'), button('Demote', 'demote', 'secondary'),
        button('Remove', 'eject', 'danger')));
  }

  fillChat(m) {
    const log = this.root.querySelector('#chat-log');
    const shown = new Set([...log.children].map((li) => li.dataset.key));
    for (const msg of m.messages) {
      const existing = [...log.children].find((li) => li.dataset.key === msg.key);
      const status = msg.direction === 'Outgoing' ? (msg.delivered ? '' : ' · sending…') : '';
      if (existing) {
        existing.querySelector('.meta').textContent = `${msg.direction === 'Outgoing' ? 'You' : msg.from} · ${clock(msg.at)}${status}`;
        continue;
      }
      if (shown.has(msg.key)) continue;
      log.append(h('li', { class: `msg ${msg.direction === 'Outgoing' ? 'out' : 'in'}`, dataset: { key: msg.key } },
        h('span', { class: 'meta' }, `${msg.direction === 'Outgoing' ? 'You' : msg.from} · ${clock(msg.at)}${status}`),
        h('span', { class: 'text' }, msg.text)));
      log.parentElement.scrollTop = log.parentElement.scrollHeight;
    }
    const connected = m.messaging?.state === 'Connected';
    const state = this.root.querySelector('#chat-state');
    state.textContent = connected ? (m.messages.length ? '' : 'No messages yet.') : 'Connecting the chat…';
    this.root.querySelector('#send').disabled = !connected;
  }

  title(m) {
    const waiting = m.phase === 'meeting' && isLeader(m) ? lobby(m) : [];
    const subject = m.subject || 'Online meeting';
    if (waiting.length) {
      const names = waiting.map((p) => p.name).join(', ');
      document.title = `(${waiting.length}) ${names} waiting · ${subject}`;
    } else if (m.phase === 'lobby') {
      document.title = `Waiting to be let in · ${subject}`;
    } else {
      document.title = `${subject} · ${this.baseTitle.split(' · ').pop()}`;
    }
  }

  tick() {
    const m = this.model;
    if (!m) return;
    const waited = this.root.querySelector('#waited');
    if (waited && m.lobbySince) waited.textContent = duration(Date.now() - m.lobbySince);
    for (const el of this.root.querySelectorAll('.since')) el.textContent = duration(Date.now() - Number(el.dataset.since));
  }
}
