// One meeting as the event channel tells it: the join invitation, the conversation, the
// roster (with the lobby, for leaders) and the chat. `apply` folds events into a plain object
// that is saved in sessionStorage with the channel's next ack, so a reload resumes exactly
// where the events left off. Nothing here is guessed: every field comes from an event (or,
// after a resync, from the resources themselves).

import { isTransient, link, request, sleep } from './ucwa.js';

/** Roster views a participant can be `in`. */
const VIEWS = ['leaders', 'attendees', 'lobby'];

/** A meeting being joined with `operationId` (how our own invitation's events are told apart). */
export function newMeeting(operationId, subject) {
  return {
    operationId,
    subject,
    phase: 'joining', // joining | lobby | meeting | ended
    invitation: null, // { href, state, cancel, conversation }
    conversation: null, // { href, state, subject, links }
    local: null, // the localParticipant
    participants: {}, // href -> participant, with `view` and `since`
    messaging: null, // { state, links }
    messages: [], // { key, direction, from, text, at, delivered }
    lobbySince: null,
    ended: null, // { reason: {code, subcode, message} | null, leftByUs }
    leaving: false, // we asked to leave (so a deletion without a reason is our own doing)
  };
}

function hrefs(links) {
  return Object.fromEntries(Object.entries(links ?? {}).map(([rel, l]) => [rel, l?.href ?? null]));
}

function participantOf(resource, view, since) {
  return {
    name: resource.name || resource.uri || 'Someone',
    uri: resource.uri ?? '',
    role: resource.role ?? 'Attendee',
    organizer: resource.organizer === true,
    anonymous: resource.anonymous === true,
    inLobby: resource.inLobby === true,
    links: hrefs(resource._links),
    view,
    since,
  };
}

function viewOf(resource) {
  if (resource.inLobby) return 'lobby';
  return resource.role === 'Leader' ? 'leaders' : 'attendees';
}

/** `/Date(1796237851832)/` -> milliseconds. */
function aspnetDate(s) {
  const m = /\/Date\((-?\d+)/.exec(s ?? '');
  return m ? Number(m[1]) : null;
}

/** The text of a `data:` URI as the server sends message bodies (`+` is a space). */
export function dataUriText(uri) {
  const comma = uri.indexOf(',');
  if (!uri.startsWith('data:') || comma < 0) return '';
  const meta = uri.slice(5, comma);
  const payload = uri.slice(comma + 1);
  let text;
  try {
    text = meta.includes(';base64') ? new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)))
      : decodeURIComponent(payload.replace(/\+/g, ' '));
  } catch {
    return '';
  }
  if (meta.startsWith('text/html')) {
    // HTML is shown as its text, never as markup.
    return new DOMParser().parseFromString(text, 'text/html').body.textContent ?? '';
  }
  return text;
}

function end(m, reason, leftByUs = false) {
  if (m.phase !== 'ended') {
    m.phase = 'ended';
    m.ended = { reason: reason ?? null, leftByUs };
  } else if (!m.ended.reason && reason) {
    m.ended.reason = reason;
  }
}

/** Folds one event into meeting `m` (mutating it); `now` is the arrival time. */
export function apply(m, e, now) {
  const rel = e.link?.rel;
  const body = e._embedded?.[rel];
  const conversationHref = m.invitation?.conversation;
  switch (rel) {
    case 'onlineMeetingInvitation': {
      const ours = body?.operationId === m.operationId || (m.invitation && e.link.href === m.invitation.href);
      if (!ours || !body) return;
      m.invitation = {
        href: e.link.href,
        state: body.state,
        cancel: link(body, 'cancel'),
        conversation: link(body, 'conversation'),
      };
      if (e.type === 'completed') {
        if (e.status === 'Success') {
          if (m.phase !== 'ended') m.phase = 'meeting';
        } else {
          end(m, e.reason);
        }
      }
      return;
    }
    case 'conversation': {
      if (!conversationHref || e.link.href !== conversationHref) return;
      if (e.type === 'deleted') {
        if (m.conversation) m.conversation.state = 'Disconnected';
        end(m, e.reason, m.leaving === true);
        return;
      }
      if (!body) return;
      m.conversation = { href: e.link.href, state: body.state, subject: body.subject, links: hrefs(body._links) };
      if (body.subject) m.subject = body.subject;
      if (body.state === 'InLobby' && m.phase === 'joining') {
        m.phase = 'lobby';
        m.lobbySince ??= now;
      }
      return;
    }
    default:
      break;
  }
  // Everything else is about the conversation: its sender is the conversation.
  if (!conversationHref || e.senderHref !== conversationHref) return;
  switch (rel) {
    case 'localParticipant':
      if (body) m.local = participantOf(body, 'local', m.local?.since ?? now);
      return;
    case 'participant': {
      const key = e.link.href;
      const known = m.participants[key];
      const view = e.in?.rel && VIEWS.includes(e.in.rel) ? e.in.rel : null;
      if (e.type === 'deleted') {
        // Deleted from one view (and usually added to another next), or gone altogether.
        if (known && (!view || known.view === view)) delete m.participants[key];
        return;
      }
      if (!body) return;
      const nextView = view ?? known?.view ?? viewOf(body);
      const since = known && known.view === nextView ? known.since : now;
      m.participants[key] = participantOf(body, nextView, since);
      return;
    }
    case 'messaging':
      if (body) m.messaging = { state: body.state, links: hrefs(body._links) };
      return;
    case 'message': {
      if (e.type !== 'completed' || !body) return;
      const at = aspnetDate(body.timeStamp) ?? now;
      if (body.direction === 'Incoming') {
        if (m.messages.some((x) => x.key === e.link.href)) return;
        const text = dataUriText(link(body, 'plainMessage') ?? link(body, 'htmlMessage') ?? '');
        const from = body._links?.participant?.title || 'Someone';
        m.messages.push({ key: e.link.href, direction: 'Incoming', from, text, at, delivered: true });
      } else {
        const mine = m.messages.find((x) => x.key === body.operationId);
        if (mine) { mine.delivered = e.status === 'Success'; mine.at = at; }
      }
      return;
    }
    default:
  }
}

/** People in the lobby (leaders only see it), oldest first. */
export function lobby(m) {
  return Object.entries(m.participants)
    .filter(([, p]) => p.view === 'lobby')
    .map(([href, p]) => ({ href, ...p }))
    .sort((a, b) => a.since - b.since);
}

/** Everyone in the meeting, us first, then leaders, then attendees, by name. */
export function roster(m) {
  const others = Object.entries(m.participants)
    .filter(([, p]) => p.view !== 'lobby')
    .map(([href, p]) => ({ href, ...p, local: false }))
    .sort((a, b) => (a.view === b.view ? a.name.localeCompare(b.name) : a.view === 'leaders' ? -1 : 1));
  return m.local ? [{ href: 'local', ...m.local, local: true }, ...others] : others;
}

export function isLeader(m) {
  return m.local?.role === 'Leader';
}

/** How many times, and how far apart, a resync tries a read that failed for a transient
 * reason (the network, a busy server). */
const REREAD_ATTEMPTS = 4;
const REREAD_PAUSE_MS = 250;

/** Re-reads the meeting from its resources (after the event channel asked for a resync).
 * Throws when a read still fails for a transient reason after a few tries: a list read as
 * empty would leave people off the roster until the next resync. */
export async function resync(m, token, now) {
  const get = async (href) => {
    if (!href) return null;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await request('GET', href, { token })).body;
      } catch (e) {
        if (!isTransient(e) || attempt === REREAD_ATTEMPTS) throw e;
        await sleep(REREAD_PAUSE_MS * attempt);
      }
    }
  };
  // What is gone (an ended invitation or conversation) or not offered (a view, the local
  // participant, messaging): none.
  const optional = (href) => get(href).catch((e) => {
    if (isTransient(e)) throw e;
    return null;
  });
  // The invitation is gone once its conversation is: the conversation says why.
  const inv = await optional(m.invitation?.href);
  if (inv) {
    m.invitation.state = inv.state;
    m.invitation.cancel = link(inv, 'cancel');
  }
  if (!m.invitation?.conversation) return;
  const conv = await optional(m.invitation.conversation);
  if (!conv) {
    end(m, null);
    return;
  }
  m.conversation = { href: m.invitation.conversation, state: conv.state, subject: conv.subject, links: hrefs(conv._links) };
  if (conv.state === 'InLobby') {
    m.phase = 'lobby';
    m.lobbySince ??= now;
  } else if (conv.state === 'Conferenced' && m.invitation.state === 'Connected') {
    m.phase = 'meeting';
  }
  const local = await optional(link(conv, 'localParticipant'));
  if (local) m.local = participantOf(local, 'local', m.local?.since ?? now);
  const participants = {};
  for (const view of VIEWS) {
    const list = await optional(link(conv, view));
    for (const p of list?._embedded?.participant ?? []) {
      const href = link(p, 'self');
      if (!href || p.local) continue;
      participants[href] = participantOf(p, view, m.participants[href]?.since ?? now);
    }
  }
  m.participants = participants;
  const messaging = await optional(link(conv, 'messaging'));
  if (messaging) m.messaging = { state: messaging.state, links: hrefs(messaging._links) };
}
