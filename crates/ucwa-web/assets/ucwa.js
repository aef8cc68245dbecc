// A small UCWA 2.0 client for the browser: discovery, sign-in, the application and its event
// channel. Every URL it uses comes from a link the server gave, except the well-known
// discovery root; hrefs are opaque (never taken apart or built by hand).

/** The well-known discovery root, the one URL a client knows in advance. */
export const ROOT = '/autodiscover/autodiscoverservice.svc/root';

/** The server answered with an error status; `code`/`subcode`/`message` come from its body. */
export class ApiError extends Error {
  constructor(status, body, headers) {
    super(body?.message || body?.error || `The server answered ${status}.`);
    this.status = status;
    this.code = body?.code ?? body?.error ?? null;
    this.subcode = body?.subcode ?? null;
    this.body = body;
    this.headers = headers;
  }
}

/** The request never got an answer: the network or the server is unreachable. */
export class NetworkError extends Error {}

function isAbort(e) {
  return e?.name === 'AbortError';
}

/** Whether a request that failed with `e` may pass if sent again in a moment: it got no
 * answer (the network), or the server was busy, restarting or limiting (5xx, 429). */
export function isTransient(e) {
  return e instanceof NetworkError || (e instanceof ApiError && (e.status >= 500 || e.status === 429));
}

/** Waits `ms`, or less if `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** Sends one request; JSON in and out unless told otherwise. */
export async function request(method, href, { token, json, form, text, headers = {}, signal } = {}) {
  const h = { Accept: 'application/json', ...headers };
  let body;
  if (token) h.Authorization = `Bearer ${token}`;
  if (json !== undefined) { h['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  if (form !== undefined) { h['Content-Type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form); }
  if (text !== undefined) { h['Content-Type'] = 'text/plain; charset=utf-8'; body = text; }
  let resp;
  let raw;
  try {
    resp = await fetch(href, { method, headers: h, body, signal, cache: 'no-store', credentials: 'omit' });
    raw = await resp.text();
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new NetworkError('The server cannot be reached.');
  }
  let parsed = null;
  if (raw) {
    try { parsed = JSON.parse(raw); } catch { parsed = null; }
  }
  if (!resp.ok) throw new ApiError(resp.status, parsed, resp.headers);
  return { status: resp.status, headers: resp.headers, body: parsed };
}

/** The href of link `rel` in a resource, or null. */
export function link(resource, rel) {
  return resource?._links?.[rel]?.href ?? null;
}

/** The token endpoint, learnt as a browser client does: the root's `user` link answers 401
 * with `WWW-Authenticate: MsRtcOAuth href="..."`. Returns { tokenHref, userHref }. */
export async function discover() {
  const root = await request('GET', ROOT);
  const userHref = link(root.body, 'user');
  if (!userHref) throw new Error('The discovery root has no user link.');
  try {
    await request('GET', userHref);
  } catch (e) {
    const challenge = e instanceof ApiError && e.status === 401 ? e.headers.get('WWW-Authenticate') ?? '' : '';
    const found = /MsRtcOAuth\s+href="([^"]+)"/i.exec(challenge);
    if (found) return { tokenHref: found[1], userHref };
    throw e;
  }
  throw new Error('The server did not ask for a sign-in.');
}

/** Signs in with `grant` (an OAuth form) and creates an application.
 * Returns the session: { token, appHref, eventsHref, app } (app: the application body). */
export async function signIn(grant) {
  const { tokenHref, userHref } = await discover();
  let token;
  let expiresAt;
  try {
    ({ token, expiresAt } = granted(await request('POST', tokenHref, { form: grant })));
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      throw new ApiError(400, { code: 'invalid_grant', message: grant.grant_type === 'password'
        ? 'That SIP address and password do not match.'
        : 'This meeting cannot be joined as a guest any more.' }, e.headers);
    }
    throw e;
  }
  const user = await request('GET', userHref, { token });
  const applications = link(user.body, 'applications');
  // A fresh endpoint per page session: two tabs of one person are two applications, each with
  // its own event channel, rather than two readers fighting over one.
  const endpointId = crypto.randomUUID();
  const app = await request('POST', applications, {
    token,
    json: { UserAgent: 'OpenUCWA web', EndpointId: endpointId, Culture: navigator.language || 'en-US' },
  });
  // A guest's grant (the meeting's id and URI, both public on the join page) is kept for
  // renewing the token; a password never is.
  const renewal = grant.grant_type === ANONYMOUS_GRANT ? { ...grant } : null;
  return { token, expiresAt, tokenHref, renewal, appHref: link(app.body, 'self'), eventsHref: link(app.body, 'events'), app: app.body };
}

/** The grant type of an anonymous guest of one meeting. */
export const ANONYMOUS_GRANT = 'urn:microsoft.rtc:anonmeeting';

/** The token of a token endpoint answer, and when it runs out (ms since the epoch). */
function granted({ body }) {
  return { token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
}

/** A fresh token for a guest's session, for the same guest (`ms_rtc_renew`): { token, expiresAt }. */
export async function renewToken(session) {
  return granted(await request('POST', session.tokenHref, { form: { ...session.renewal, ms_rtc_renew: session.token } }));
}

/** `makeMeAvailable`, if the application still offers it. */
export async function makeMeAvailable(session) {
  const href = link(session.app?._embedded?.me, 'makeMeAvailable');
  if (href) await request('POST', href, { token: session.token, json: { SupportedModalities: ['Messaging'] } });
}

/** A link of the application's `communication` resource (`joinOnlineMeeting`, ...). */
export function communicationLink(session, rel) {
  return link(session.app?._embedded?.communication, rel);
}

/** Keeps one JSON value per page session, so a reload resumes where it was. */
export class Saved {
  constructor(key) { this.key = key; }
  load() {
    try { return JSON.parse(sessionStorage.getItem(this.key) ?? 'null'); } catch { return null; }
  }
  save(value) { sessionStorage.setItem(this.key, JSON.stringify(value)); }
  clear() { sessionStorage.removeItem(this.key); }
}

const FIRST_RETRY_MS = 1000;
const LONGEST_RETRY_MS = 30000;

/**
 * The event channel: long-polls the `next` link, hands each batch's events to `onEvents`,
 * and goes on from the batch's `next`. A lost answer is asked for again with the same ack,
 * which the server replays; network failures are retried with exponential backoff and
 * reported through `onStatus`.
 *
 * Callbacks: onEvents(events, nextHref) (events flattened, each with `sender` and
 * `senderHref`), onResync(nextHref), onStatus({ online, retryInMs }), onGone(error).
 */
export class EventChannel {
  constructor(token, nextHref, callbacks) {
    this.token = token;
    this.next = nextHref;
    this.cb = callbacks;
    this.abort = null;
  }

  start() {
    if (this.abort) return;
    this.abort = new AbortController();
    const { signal } = this.abort;
    // The browser knows first when the network goes: drop the parked request at once rather
    // than wait for it to time out, and try again as soon as the network is back.
    window.addEventListener('offline', () => this.poll?.abort(), { signal });
    window.addEventListener('online', () => this.wake?.abort(), { signal });
    this.loop(signal);
  }

  stop() {
    this.abort?.abort();
    this.abort = null;
  }

  async loop(signal) {
    let delay = FIRST_RETRY_MS;
    let offline = false;
    while (!signal.aborted) {
      this.poll = new AbortController();
      try {
        const { body } = await request('GET', this.next, { token: this.token, signal: AbortSignal.any([signal, this.poll.signal]) });
        if (signal.aborted) return;
        if (offline) { offline = false; this.cb.onStatus?.({ online: true }); }
        delay = FIRST_RETRY_MS;
        const next = link(body, 'next');
        if (!next) {
          // Only a `resync` link: our ack was not one the server could answer. Start again
          // from what it offers and re-read the state from the resources.
          this.next = link(body, 'resync');
          await this.cb.onResync?.(this.next);
          continue;
        }
        const events = [];
        for (const sender of body.sender ?? []) {
          for (const e of sender.events ?? []) events.push({ ...e, sender: sender.rel, senderHref: sender.href });
        }
        this.next = next;
        this.cb.onEvents(events, next);
      } catch (e) {
        if (signal.aborted) return;
        const retriable = isAbort(e) || isTransient(e);
        if (!retriable) { this.cb.onGone?.(e); this.abort = null; return; }
        offline = true;
        this.cb.onStatus?.({ online: false, retryInMs: delay });
        this.wake = new AbortController();
        await sleep(delay, AbortSignal.any([signal, this.wake.signal]));
        delay = Math.min(delay * 2, LONGEST_RETRY_MS);
      }
    }
  }
}
