// The organizer console: sign in, list, create, edit and delete my meetings, copy a join
// link, and Start: join as organizer into the meeting view with its lobby panel.

import { ApiError, Saved, link, request, signIn } from './ucwa.js';
import { MeetingPage, errorText } from './meeting-page.js';
import { h } from './meeting-view.js';

const $ = (id) => document.getElementById(id);
const sections = ['signin', 'meetings', 'editor', 'meeting'];
const saved = new Saved('openucwa:console');
const page = new MeetingPage({
  saved,
  root: $('meeting'),
  banner: $('connection'),
  notice: $('notice'),
  againLabel: 'Back to my meetings',
  onAgain: () => { page.closeMeeting(); showList(); },
  onGone: (text) => { if (!page.meeting) signOut(text); },
});
let editing = null; // { href, etag, body } of the meeting being edited, or null for a new one

function show(id) {
  for (const s of sections) $(s).hidden = s !== id;
  const heading = $(id).querySelector('h1');
  if (heading && id !== 'meeting') heading.focus();
}

function token() { return page.session.token; }

function myMeetingsHref() {
  return link(page.session.app?._embedded?.onlineMeetings, 'myOnlineMeetings');
}

function signedIn() {
  const me = page.session.app?._embedded?.me;
  $('who-name').textContent = me?.name || me?.uri || '';
  $('who').hidden = false;
}

async function signOut(message = '') {
  const session = page.session;
  page.stop();
  saved.clear();
  page.data = {};
  $('who').hidden = true;
  $('signin-error').textContent = message;
  show('signin');
  if (session) request('DELETE', session.appHref, { token: session.token }).catch(() => {});
}

const ACCESS = { Everyone: 'Everyone gets in', SameEnterprise: 'My organization gets in', Invited: 'Invited people get in', Locked: 'Locked: everyone waits' };

function expiry(body) {
  const ms = Number(/\/Date\((\d+)/.exec(body.expirationTime ?? '')?.[1]);
  return ms ? new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

async function showList() {
  show('meetings');
  $('list-status').textContent = 'Loading…';
  try {
    const list = (await request('GET', myMeetingsHref(), { token: token() })).body;
    const links = [list?._links?.myOnlineMeeting ?? []].flat();
    const meetings = await Promise.all(links.map(async (l) => {
      const r = await request('GET', l.href, { token: token() });
      return { href: l.href, etag: r.headers.get('ETag'), body: r.body };
    }));
    $('meeting-list').replaceChildren(...meetings.map(meetingItem));
    $('list-status').textContent = meetings.length ? `${meetings.length} meeting${meetings.length === 1 ? '' : 's'}` : 'No meetings yet. Create one with New meeting.';
  } catch (e) {
    $('list-status').textContent = `Could not load your meetings: ${errorText(e)}`;
  }
}

function meetingItem(m) {
  const b = m.body;
  const subject = b.subject || 'Untitled meeting';
  const id = `link-${b.onlineMeetingId}`;
  const copied = h('span', { class: 'muted small', role: 'status' });
  const input = h('input', { id, readonly: true, value: b.joinUrl, class: 'join-url' });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(b.joinUrl);
      copied.textContent = 'Copied.';
    } catch {
      input.select();
      copied.textContent = 'Selected: press Ctrl+C to copy.';
    }
  };
  return h('li', { class: 'card meeting-item' },
    h('div', { class: 'panel-head' },
      h('h2', {}, subject),
      h('span', { class: `badge ${b.accessLevel === 'Locked' ? 'locked' : ''}` }, ACCESS[b.accessLevel] ?? b.accessLevel)),
    h('p', { class: 'muted small' }, `Until ${expiry(b)}`, b.leaders?.length ? ` · leaders: ${b.leaders.join(', ')}` : ''),
    h('label', { for: id }, 'Join link'),
    h('div', { class: 'row' }, input,
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy the join link of ${subject}`, onclick: copy }, 'Copy')),
    copied,
    h('div', { class: 'row actions' },
      h('button', { type: 'button', 'aria-label': `Start ${subject}`, onclick: () => startMeeting(b) }, 'Start'),
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${subject}`, onclick: () => openEditor(m) }, 'Edit'),
      h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${subject}`, onclick: () => deleteMeeting(m, subject) }, 'Delete')));
}

function sipList(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

function openEditor(m) {
  editing = m;
  const b = m?.body ?? {};
  $('editor-title').textContent = m ? 'Edit meeting' : 'New meeting';
  $('save').textContent = m ? 'Save changes' : 'Create meeting';
  $('f-subject').value = b.subject ?? '';
  $('f-access').value = b.accessLevel ?? 'SameEnterprise';
  $('f-leaders').value = (b.leaders ?? []).join('\n');
  $('f-attendees').value = (b.attendees ?? []).join('\n');
  $('f-auto').value = b.automaticLeaderAssignment ?? 'Disabled';
  $('f-bypass').checked = b.lobbyBypassForPhoneUsers === 'Enabled';
  $('form-error').textContent = '';
  show('editor');
}

function formValues() {
  return {
    subject: $('f-subject').value.trim(),
    accessLevel: $('f-access').value,
    leaders: sipList($('f-leaders').value),
    attendees: sipList($('f-attendees').value),
    automaticLeaderAssignment: $('f-auto').value,
    lobbyBypassForPhoneUsers: $('f-bypass').checked ? 'Enabled' : 'Disabled',
  };
}

function problem(e) {
  if (e instanceof ApiError && e.body?.parameters) {
    const details = Object.entries(e.body.parameters).map(([k, v]) => `${k}: ${v}`).join('; ');
    return `${e.message} (${details})`;
  }
  return errorText(e);
}

async function saveMeeting(ev) {
  ev.preventDefault();
  $('form-error').textContent = '';
  $('save').disabled = true;
  try {
    if (editing) {
      // A PUT carries the whole resource as read, with our changes (UCWA's rule).
      const { _links, rel, ...current } = editing.body;
      await request('PUT', editing.href, { token: token(), json: { ...current, ...formValues() }, headers: { 'If-Match': editing.etag ?? '' } });
    } else {
      await request('POST', myMeetingsHref(), { token: token(), json: formValues() });
    }
    editing = null;
    await showList();
  } catch (e) {
    $('form-error').textContent = e instanceof ApiError && e.status === 412
      ? 'Someone changed this meeting meanwhile. Go back and edit it again.'
      : problem(e);
  } finally {
    $('save').disabled = false;
  }
}

async function deleteMeeting(m, subject) {
  if (!window.confirm(`Delete "${subject}"? Its join link stops working and anyone in it is disconnected.`)) return;
  try {
    await request('DELETE', m.href, { token: token() });
  } catch (e) {
    $('list-status').textContent = `Could not delete: ${errorText(e)}`;
    return;
  }
  await showList();
}

async function startMeeting(b) {
  show('meeting');
  await page.join(b.onlineMeetingUri, b.subject || 'Untitled meeting');
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('signin-error').textContent = '';
  const button = ev.target.querySelector('button');
  button.disabled = true;
  try {
    const session = await signIn({ grant_type: 'password', username: $('signin-uri').value.trim(), password: $('signin-password').value });
    await page.begin(session);
    signedIn();
    await showList();
  } catch (e) {
    page.stop();
    saved.clear();
    $('signin-error').textContent = errorText(e);
  } finally {
    button.disabled = false;
  }
});
$('new-meeting').addEventListener('click', () => openEditor(null));
$('cancel-edit').addEventListener('click', () => { editing = null; showList(); });
$('meeting-form').addEventListener('submit', saveMeeting);
$('sign-out').addEventListener('click', () => signOut());

if (page.session) {
  signedIn();
  page.listen();
  if (page.meeting) show('meeting');
  else showList();
} else {
  show('signin');
}
