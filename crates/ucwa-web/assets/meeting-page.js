// Runs one meeting on a page: the signed-in session, its event channel, the meeting state
// (meeting.js), its view (meeting-view.js), the connection banner and lobby notifications.
// Everything needed to resume is saved in sessionStorage after each batch: the token, the
// application, the channel's next ack and the meeting state.

import { ApiError, EventChannel, NetworkError, communicationLink, makeMeAvailable, renewToken, request } from './ucwa.js';
import { apply, isLeader, lobby, newMeeting, resync } from './meeting.js';
import { MeetingView } from './meeting-view.js';

/** Words for an error of an action the user took. */
export function errorText(e) {
  if (e instanceof NetworkError) return 'The server cannot be reached. Check your connection and try again.';
  if (e instanceof ApiError) {
    if (e.status === 429) return 'Too many attempts. Wait a minute and try again.';
    return e.message;
  }
  return e?.message || String(e);
}

/** A guest's token is renewed this long before it runs out (it lasts an hour), and a failed
 * renewal is tried again after `RENEW_RETRY_MS` while the token is still good. */
const RENEW_BEFORE_MS = 10 * 60 * 1000;
const RENEW_RETRY_MS = 30 * 1000;

export class MeetingPage {
  /**
   * @param opts.saved        a Saved (sessionStorage slot)
   * @param opts.root         where the meeting is drawn
   * @param opts.banner       the connection banner element
   * @param opts.notice       the notification element (lobby arrivals, failed actions)
   * @param opts.againLabel   label of the button shown when the meeting is over
   * @param opts.onAgain()    what that button does
   * @param opts.onGone(text) the session is no longer usable (expired, replaced)
   */
  constructor(opts) {
    this.o = opts;
    this.data = opts.saved.load() ?? {};
    this.channel = null;
    this.view = null;
    this.retryTimer = null;
    this.renewTimer = null;
  }

  get session() { return this.data.session ?? null; }
  get meeting() { return this.data.meeting ?? null; }

  save() { this.o.saved.save(this.data); }

  /** Starts with a new session (just signed in): makes it available and opens its channel. */
  async begin(session) {
    this.data = { session, next: session.eventsHref, meeting: null };
    delete session.eventsHref;
    this.save();
    await makeMeAvailable(session);
    this.listen();
  }

  /** Opens the event channel where the saved state left it (after a reload, with the same ack). */
  listen() {
    if (this.channel || !this.session) return;
    this.channel = new EventChannel(this.session.token, this.data.next, {
      onEvents: (events, next) => this.onEvents(events, next),
      onResync: (next) => this.onResync(next),
      onStatus: (s) => this.showConnection(s),
      onGone: (e) => this.onGone(e),
    });
    this.channel.start();
    this.scheduleRenewal();
    if (this.meeting) this.draw();
  }

  /** A guest's meeting can outlast its token: renew it (same guest, `ms_rtc_renew`) before it
   * runs out. A signed-in user's token lasts as long as the server grants and is not renewed
   * (the password is not kept). */
  scheduleRenewal(delay) {
    clearTimeout(this.renewTimer);
    const s = this.session;
    if (!s?.renewal || !s.expiresAt) return;
    const wait = delay ?? Math.max(0, s.expiresAt - Date.now() - RENEW_BEFORE_MS);
    this.renewTimer = setTimeout(() => this.renew(), wait);
  }

  async renew() {
    const s = this.session;
    if (!s) return;
    try {
      const { token, expiresAt } = await renewToken(s);
      if (this.session !== s) return; // left or restarted meanwhile
      Object.assign(s, { token, expiresAt });
      this.save();
      if (this.channel) this.channel.token = token; // the parked request ends with the old one
      this.scheduleRenewal();
    } catch (e) {
      // 400: the meeting can no longer be joined (ended, deleted); the token runs out with it.
      const hopeless = e instanceof ApiError && e.status === 400;
      if (!hopeless && this.session === s && Date.now() + RENEW_RETRY_MS < s.expiresAt) this.scheduleRenewal(RENEW_RETRY_MS);
    }
  }

  stop() {
    clearTimeout(this.renewTimer);
    this.channel?.stop();
    this.channel = null;
    this.view?.destroy();
    this.view = null;
  }

  /** Joins `meetingUri` (`extra`: e.g. anonymousDisplayName). */
  async join(meetingUri, subject, extra = {}) {
    this.data.meeting = newMeeting(crypto.randomUUID(), subject);
    this.save();
    this.draw();
    const href = communicationLink(this.session, 'joinOnlineMeeting');
    try {
      await request('POST', href, { token: this.session.token, json: { onlineMeetingUri: meetingUri, operationId: this.meeting.operationId, ...extra } });
    } catch (e) {
      this.meeting.phase = 'ended';
      this.meeting.ended = { reason: { code: e.code ?? 'Error', subcode: e.subcode ?? '', message: errorText(e) } };
      this.save();
      this.draw();
    }
  }

  /** Forgets the meeting (after it ended), keeping the session. */
  closeMeeting() {
    this.view?.destroy();
    this.view = null;
    this.data.meeting = null;
    this.save();
    this.o.root.replaceChildren();
  }

  onEvents(events, next) {
    const m = this.meeting;
    const before = m ? new Set(lobby(m).map((p) => p.href)) : new Set();
    const now = Date.now();
    if (m) for (const e of events) apply(m, e, now);
    this.data.next = next;
    this.save();
    if (!m) return;
    if (isLeader(m) && m.phase === 'meeting') {
      const arrived = lobby(m).filter((p) => !before.has(p.href));
      if (arrived.length) this.notify(`${arrived.map((p) => p.name).join(', ')} ${arrived.length === 1 ? 'is' : 'are'} waiting in the lobby.`);
      else if (!lobby(m).length) this.notify('');
    }
    this.draw();
  }

  async onResync(next) {
    if (this.meeting) {
      try {
        await resync(this.meeting, this.session.token, Date.now());
      } catch (e) {
        this.notify(`Could not refresh the meeting: ${errorText(e)}`);
      }
    }
    this.data.next = next;
    this.save();
    if (this.meeting) this.draw();
  }

  onGone(e) {
    this.channel = null;
    const text = e instanceof ApiError && e.status === 409
      ? 'This page is open in another tab or window, which now has the connection.'
      : 'Your connection to the server has ended (the sign-in expired or the session was closed).';
    const m = this.meeting;
    if (m && m.phase !== 'ended') {
      m.phase = 'ended';
      m.ended = { reason: { code: 'Session', subcode: 'Gone', message: text } };
      this.save();
      this.draw();
    }
    this.o.onGone?.(text);
  }

  draw() {
    const m = this.meeting;
    if (!m) return;
    if (!this.view) {
      this.view = new MeetingView(this.o.root, {
        cancel: () => this.act(m.invitation?.cancel, 'Cancel'),
        leave: () => this.leave(),
        act: (href, label) => this.act(href, label),
        send: (text) => this.send(text),
        again: () => this.o.onAgain(),
        againLabel: this.o.againLabel,
      });
    }
    this.view.render(m);
    if (m.phase === 'meeting') this.ensureMessaging();
  }

  /** POSTs an action link (admit, reject, promote, demote, eject, cancel). The result shows up
   * as events; only a failure is reported here. */
  async act(href, label) {
    if (!href) return;
    try {
      await request('POST', href, { token: this.session.token });
    } catch (e) {
      this.notify(`${label} did not work: ${errorText(e)}`);
    }
  }

  async leave() {
    const m = this.meeting;
    const href = m?.conversation?.href;
    if (!href) return;
    m.leaving = true;
    this.save();
    try {
      await request('DELETE', href, { token: this.session.token });
    } catch (e) {
      m.leaving = false;
      this.save();
      this.notify(`Leaving did not work: ${errorText(e)}`);
    }
  }

  /** The meeting's chat: once in, add messaging if the conversation offers it. */
  async ensureMessaging() {
    const m = this.meeting;
    const add = m.messaging?.links?.addMessaging ?? null;
    if (m.messaging?.state === 'Connected' || this.addingMessaging) return;
    let href = add;
    if (!href && !m.messaging && m.conversation?.links?.messaging) {
      // No messaging event yet: read the modality once to find its addMessaging link.
      this.addingMessaging = true;
      try {
        const r = await request('GET', m.conversation.links.messaging, { token: this.session.token });
        href = r.body?._links?.addMessaging?.href ?? null;
      } catch {
        href = null;
      }
      this.addingMessaging = false;
    }
    if (!href || this.addingMessaging) return;
    this.addingMessaging = true;
    try {
      await request('POST', href, { token: this.session.token, json: { operationId: crypto.randomUUID() } });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) this.notify(`The chat could not start: ${errorText(e)}`);
    }
    this.addingMessaging = false;
  }

  async send(text) {
    const m = this.meeting;
    const href = m.messaging?.links?.sendMessage;
    if (!href) return;
    const operationId = crypto.randomUUID();
    m.messages.push({ key: operationId, direction: 'Outgoing', from: 'You', text, at: Date.now(), delivered: false });
    this.save();
    this.draw();
    const url = new URL(href, location.href);
    url.searchParams.set('operationId', operationId);
    try {
      await request('POST', url.href, { token: this.session.token, text });
    } catch (e) {
      m.messages = m.messages.filter((x) => x.key !== operationId);
      this.save();
      this.draw();
      this.notify(`Your message was not sent: ${errorText(e)}`);
    }
  }

  notify(text) {
    const el = this.o.notice;
    el.textContent = text;
    el.hidden = !text;
  }

  showConnection({ online, retryInMs }) {
    const el = this.o.banner;
    clearInterval(this.retryTimer);
    if (online) {
      el.textContent = 'Connected again.';
      el.className = 'banner ok';
      setTimeout(() => { if (el.textContent === 'Connected again.') el.hidden = true; }, 3000);
      return;
    }
    const until = Date.now() + retryInMs;
    const show = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      el.textContent = s > 0 ? `Connection lost. Trying again in ${s} s…` : 'Connection lost. Trying again now…';
    };
    el.className = 'banner warn';
    el.hidden = false;
    show();
    this.retryTimer = setInterval(show, 1000);
  }
}
