#!/usr/bin/env python3
"""Compatibility harness: the PyPI package ``ucwa`` (0.3.0) as a messaging bot against OpenUCWA.

What it does (see NOTES.md next to this file for the full analysis):

* The *bot* is the ``ucwa`` library: ``ucwa.actions.register_application``,
  ``ucwa.actions.set_available``, ``ucwa.actions.oauth_stream_request`` on the event
  channel, and ``ucwa.events.process_events`` which accepts the incoming
  ``messagingInvitation`` and hands incoming messages to ``ucwa.events.MESSAGE_CALLBACK``.
  The package ships no event loop (its README points at an ``app.py`` that is not in the
  sdist), so ``run_bot`` below is a faithful copy of upstream's ``app.py`` loop.
  The package also has no password grant and no on-premises discovery, so the harness gets
  the bot's token itself (the only thing it does on the bot's behalf).
* The *caller* is plain ``requests`` following UCWA hypermedia: root -> ``user`` -> 401
  ``MsRtcOAuth href`` -> password grant -> ``applications`` -> ``makeMeAvailable`` ->
  ``startMessaging`` -> events until messaging is Connected -> ``sendMessage`` -> events
  until the bot's reply arrives.

Where the package is broken on Python 3 (or on any requests >= 2.11) the harness patches
around it in ``install_compat_patches`` -- never in the server. Every patch is commented with
the file:line of the bug.

Exit status 0 and ``1 passed, 0 failed`` on success; exit status 1, a diagnosis and
``0 passed, 1 failed`` otherwise. Everything is bounded by ``--timeout`` (default 60 s) and
only loopback addresses are ever contacted.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import types
import urllib.parse
import uuid
from contextlib import closing
from dataclasses import dataclass, field

try:
    import requests
except ImportError:  # pragma: no cover - environment problem, not a test result
    print("requests is not installed: pip install -r compat/ucwa-py/requirements.txt")
    print("0 passed, 1 failed")
    sys.exit(1)

UCWA_VERSION = "0.3.0"


# ---------------------------------------------------------------------------------------
# Recording of every HTTP exchange (both sides), for the diagnosis
# ---------------------------------------------------------------------------------------


@dataclass
class Exchange:
    side: str
    method: str
    url: str
    status: int | None
    elapsed: float
    note: str = ""


class Recorder:
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.lock = threading.Lock()
        self.items: list[Exchange] = []

    def add(self, ex: Exchange) -> None:
        with self.lock:
            self.items.append(ex)
        if self.verbose:
            print(f"  [{ex.side}] {ex.method} {ex.url} -> {ex.status} ({ex.elapsed:.2f}s) {ex.note}".rstrip(), flush=True)

    def tail(self, n: int = 30) -> list[Exchange]:
        with self.lock:
            return list(self.items[-n:])


def is_loopback_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0


class BoundedHttp:
    """A loopback-only, deadline-bounded, recording stand-in for the ``requests`` module.

    INSTRUMENTATION, NOT A FIX: ``ucwa.actions`` calls ``requests.get``/``requests.post``
    without any timeout (actions.py:65, 86, 107, 125), so a parked event-channel GET would
    block for the server's long-poll timeout (180 s). The harness swaps the module-level
    ``requests`` name inside ``ucwa.actions`` for this object: same call signature, plus a
    timeout capped by the overall deadline, a loopback check, no proxies from the
    environment, and a record of every exchange.
    """

    def __init__(self, side: str, recorder: Recorder, deadline: Deadline, poll_cap: float):
        self.side = side
        self.recorder = recorder
        self.deadline = deadline
        self.poll_cap = poll_cap
        self.session = requests.Session()
        self.session.trust_env = False  # never route loopback traffic through a proxy

    def request(self, method: str, url: str, **kwargs):
        if not is_loopback_url(url):
            raise RuntimeError(f"harness refuses a non-loopback URL: {url!r}")
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("overall harness deadline reached")
        kwargs.setdefault("timeout", (min(5.0, remaining), max(0.5, min(self.poll_cap, remaining))))
        kwargs.pop("verify", None)  # plain http on loopback; the library passes verify=False
        started = time.monotonic()
        try:
            resp = self.session.request(method, url, **kwargs)
        except Exception as e:
            self.recorder.add(Exchange(self.side, method, url, None, time.monotonic() - started, f"{type(e).__name__}: {e}"))
            raise
        note = ""
        if resp.status_code >= 400:
            note = _short(resp.text)
        self.recorder.add(Exchange(self.side, method, url, resp.status_code, time.monotonic() - started, note))
        return resp

    # The subset of the `requests` module API that ucwa.actions uses.
    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)


def _short(text: str, n: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n] + "..."


# ---------------------------------------------------------------------------------------
# Python-3 / modern-requests patches for ucwa 0.3.0 (harness only; the package is untouched)
# ---------------------------------------------------------------------------------------

APPLIED_PATCHES: list[str] = []


def install_compat_patches(bot_http: BoundedHttp):
    """Imports the parts of ``ucwa`` the bot needs and patches them. Returns the modules."""

    # PATCH 1 -- undeclared dependency. actions.py:3 (and auth.py:1, http.py:2) import
    # `future.moves.urllib.parse`, from the `future` backport package, which setup.py:17-19
    # does not declare (install_requires=[]). On Python 3 that module is nothing but
    # urllib.parse, so if `future` is absent we register a tiny alias instead of installing it.
    try:
        import future.moves.urllib.parse  # noqa: F401
    except ImportError:
        pkg = types.ModuleType("future")
        moves = types.ModuleType("future.moves")
        murllib = types.ModuleType("future.moves.urllib")
        pkg.moves, moves.urllib, murllib.parse = moves, murllib, urllib.parse
        pkg.__path__, moves.__path__, murllib.__path__ = [], [], []
        sys.modules.update({
            "future": pkg,
            "future.moves": moves,
            "future.moves.urllib": murllib,
            "future.moves.urllib.parse": urllib.parse,
        })
        APPLIED_PATCHES.append("future.moves.urllib.parse aliased to urllib.parse (actions.py:3, undeclared dep)")

    # NOT IMPORTED on purpose: ucwa.config (config.py:6-7 opens ./config.yml at import time and
    # calls yaml.load() without Loader, a TypeError on PyYAML >= 6), ucwa.auth (loads that
    # config at import, auth.py:11; Azure AD flows only) and ucwa.http (a Flask app that calls
    # app.run() at import time, http.py:68). The bot flow needs none of them.
    try:
        import ucwa
        import ucwa.actions as actions
        import ucwa.datauri as datauri
        import ucwa.events as events
    except ImportError as e:
        raise HarnessFailure("import ucwa", f"cannot import ucwa ({e}); pip install -r compat/ucwa-py/requirements.txt", "environment")
    if getattr(ucwa, "__version__", None) != UCWA_VERSION:
        print(f"WARNING: this harness was written against ucwa {UCWA_VERSION}, found {getattr(ucwa, '__version__', '?')}")

    # PATCH 2 -- every authenticated request fails before it is sent. actions.py:60, 81, 102,
    # 120 put `'X-MS-Correlation-Id': uid` in the headers where uid is a uuid.UUID object;
    # requests >= 2.11 (2016) rejects non-str header values with InvalidHeader (on Python 2
    # too). We give ucwa.actions a `uuid` whose uuid1() returns a str. The other uses of the
    # value ('WebSDK/%s' % uid, str(uuid.uuid1()) at actions.py:34) are unaffected.
    actions.uuid = types.SimpleNamespace(uuid1=lambda *a, **k: str(uuid.uuid1(*a, **k)))
    APPLIED_PATCHES.append("ucwa.actions.uuid.uuid1 returns str (actions.py:60/81/102/120 UUID header value)")

    # INSTRUMENTATION (not a bug fix): bounded, loopback-only, recorded HTTP; see BoundedHttp.
    actions.requests = bot_http

    # PATCH 3 -- Python 2 urllib API. events.py:70 calls urllib.unquote_plus and
    # datauri.py:39/87 call urllib.quote / urllib.unquote; in Python 3 these live in
    # urllib.parse, so every incoming message raises AttributeError (which
    # process_events does not catch: it only catches KeyError, events.py:13) and kills the
    # bot. Give both modules a `urllib` with the Python 2 names.
    py2_urllib = types.SimpleNamespace(
        quote=urllib.parse.quote,
        unquote=urllib.parse.unquote,
        unquote_plus=urllib.parse.unquote_plus,
    )
    datauri.urllib = py2_urllib
    events.urllib = py2_urllib
    APPLIED_PATCHES.append("ucwa.events.urllib / ucwa.datauri.urllib get unquote_plus/unquote/quote (events.py:70, datauri.py:39,87)")

    # PATCH 4 -- base64 data URIs. datauri.py:85 decodes with str.decode('base64'), which does
    # not exist in Python 3 (AttributeError, uncaught -> bot dies) if the server ever sends
    # `plainMessage` as `data:text/plain;charset=utf-8;base64,...`. Replace the `_parse`
    # property with the same logic using the base64 module; text comes back as str (what
    # events.py:70 expects), decoded with the URI's charset.
    def _parse(self):
        match = datauri._DATA_URI_RE.match(self)
        if not match:
            raise ValueError("Not a valid data URI: %r" % self)
        mimetype = match.group("mimetype") or None
        charset = match.group("charset") or None
        if match.group("base64"):
            raw = base64.b64decode(urllib.parse.unquote(match.group("data")))
            data = raw.decode(charset or "utf-8", "replace")
        else:
            data = urllib.parse.unquote(match.group("data"))
        return mimetype, charset, bool(match.group("base64")), data

    datauri.DataURI._parse = property(_parse)
    APPLIED_PATCHES.append("ucwa.datauri.DataURI._parse decodes ;base64 with the base64 module (datauri.py:85)")

    # Known but NOT patched because the bot flow never reaches them (documented in NOTES.md):
    # datauri.py:37 data.encode('base64') in DataURI.make (outgoing only), datauri.py:59
    # `textwrap` never imported (DataURI.wrap), events.py:14 logging.warn (deprecated alias,
    # still works on 3.11), events.py:10-14 UnboundLocalError if an event has no `link`.
    return actions, events, datauri


# ---------------------------------------------------------------------------------------
# Shared state
# ---------------------------------------------------------------------------------------


@dataclass
class BotState:
    stage: str = "not started"
    app: dict | None = None
    available: threading.Event = field(default_factory=threading.Event)
    first_batch: threading.Event = field(default_factory=threading.Event)
    batches: int = 0
    error: str | None = None
    error_kind: str | None = None
    inbound: list[str] = field(default_factory=list)
    replies_sent: list[str] = field(default_factory=list)
    reply_errors: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class LogCapture(logging.Handler):
    """Keeps what ucwa logs (e.g. 'Not sure how to process - X', 'Failed message')."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        # Not `self.lock`: logging.Handler already holds its own lock there while calling emit().
        self._lines_lock = threading.Lock()

    def emit(self, record):
        with self._lines_lock:
            self.lines.append(f"{record.levelname}: {record.getMessage()}")


class HarnessFailure(Exception):
    def __init__(self, stage: str, message: str, kind: str = "unknown"):
        super().__init__(message)
        self.stage = stage
        self.kind = kind


def classify_http_error(e: Exception) -> str:
    resp = getattr(e, "response", None)
    if resp is None:
        return "transport"
    if resp.status_code in (404, 405, 501):
        return "server gap (route/resource missing)"
    if resp.status_code in (400, 409, 415):
        return "server refused the request shape/state"
    if resp.status_code >= 500:
        return "server error"
    return f"HTTP {resp.status_code}"


# ---------------------------------------------------------------------------------------
# The bot: the ucwa library, driven exactly like upstream pyucwa's app.py
# ---------------------------------------------------------------------------------------


def run_bot(ctx: "Harness") -> None:
    actions, events = ctx.actions, ctx.events
    st = ctx.bot
    base, token, config = ctx.base, ctx.bot_token, ctx.bot_config
    try:
        st.stage = "register_application (POST /ucwa/oauth/v1/applications)"
        app = actions.register_application(base, token, config)
        st.app = app
        st.stage = "read application (_links.events.href, id)"
        event_url = base + app["_links"]["events"]["href"]
        app_id = app["id"]
        st.stage = f"set_available (POST /ucwa/oauth/v1/applications/{app_id}/me/makeMeAvailable)"
        actions.set_available(base, app_id, token, config)
        st.available.set()
        while not ctx.stop.is_set():
            st.stage = f"event channel GET #{st.batches + 1} ({event_url[len(base):]})"
            events_stream = actions.oauth_stream_request(event_url, token, config["redirect_uri"])
            with closing(events_stream):
                event_response = events_stream.json()
            if ctx.stop.is_set():
                break
            st.stage = f"process_events on batch #{st.batches + 1}"
            # Upstream app.py processes only event_response['sender'][0]; we process every
            # sender unless --first-sender-only asks for upstream's exact behaviour.
            senders = event_response["sender"]
            if ctx.args.first_sender_only:
                senders = senders[:1]
            for sender in senders:
                events.process_events(sender["events"], base, token, config)
            st.batches += 1
            st.first_batch.set()
            event_url = base + event_response["_links"]["next"]["href"]
        st.stage = "stopped"
    except Exception as e:  # noqa: BLE001 - everything is a diagnosis here
        if ctx.stop.is_set():
            st.stage = "stopped"
            return
        kind = classify_http_error(e) if isinstance(e, requests.HTTPError) else type(e).__name__
        st.error_kind = kind
        st.error = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=6))
    finally:
        st.done.set()


# ---------------------------------------------------------------------------------------
# The caller: plain HTTP following UCWA hypermedia
# ---------------------------------------------------------------------------------------


class Caller:
    def __init__(self, ctx: "Harness"):
        self.ctx = ctx
        self.http = BoundedHttp("caller", ctx.recorder, ctx.deadline, poll_cap=ctx.args.timeout)
        self.token: str | None = None
        self.app: dict | None = None
        self.events_url: str | None = None
        # state learnt from the event channel
        self.invitation_status: str | None = None
        self.invitation_reason: dict | None = None
        self.conversation_href: str | None = None
        self.messaging_state: str | None = None
        self.send_message_href: str | None = None
        self.incoming_texts: list[str] = []
        self.outgoing_message_failures: list[dict] = []

    def url(self, href: str) -> str:
        return urllib.parse.urljoin(self.ctx.base + "/", href)

    def headers(self, **extra) -> dict:
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(extra)
        return h

    def expect(self, resp, stage: str, ok=(200, 201, 204)):
        if resp.status_code not in ok:
            kind = "server gap (route/resource missing)" if resp.status_code in (404, 405, 501) else f"HTTP {resp.status_code}"
            raise HarnessFailure(stage, f"{resp.request.method} {resp.url} answered {resp.status_code}: {_short(resp.text)}", kind)
        return resp

    # -- discovery + token (shared with the bot: the library cannot do this itself) --------

    def discover_token_endpoint(self) -> tuple[str, str]:
        stage = "discovery"
        root = self.expect(self.http.get(self.ctx.base + "/", headers=self.headers()), stage).json()
        user_href = self.url(root["_links"]["user"]["href"])
        resp = self.http.get(user_href, headers={"Accept": "application/json"})
        if resp.status_code != 401:
            raise HarnessFailure(stage, f"GET {user_href} without a token answered {resp.status_code}, expected 401", "server")
        challenge = resp.headers.get("WWW-Authenticate", "")
        m = re.search(r'MsRtcOAuth\s+href="([^"]+)"', challenge)
        if not m:
            raise HarnessFailure(stage, f"no MsRtcOAuth href in WWW-Authenticate: {challenge!r}", "server")
        return user_href, self.url(m.group(1))

    def password_grant(self, token_url: str, user: str, password: str, who: str) -> str:
        stage = f"token for {who}"
        resp = self.http.post(
            token_url,
            data={"grant_type": "password", "username": user, "password": password},
            headers={"Accept": "application/json"},
        )
        self.expect(resp, stage, ok=(200,))
        return resp.json()["access_token"]

    # -- caller application ----------------------------------------------------------------

    def setup(self, user_href: str, token_url: str) -> None:
        a = self.ctx.args
        self.token = self.password_grant(token_url, a.caller_user, a.caller_password, "caller")
        stage = "caller application"
        user = self.expect(self.http.get(user_href, headers=self.headers()), stage).json()
        apps_href = self.url(user["_links"]["applications"]["href"])
        body = {"userAgent": "ucwa-py-harness-caller", "endpointId": str(uuid.uuid4()), "culture": "en-US"}
        resp = self.expect(
            self.http.post(apps_href, json=body, headers=self.headers()), stage, ok=(200, 201)
        )
        self.app = resp.json()
        self.events_url = self.url(self.app["_links"]["events"]["href"])
        mma = self.app["_embedded"]["me"]["_links"].get("makeMeAvailable")
        if mma:
            self.expect(
                self.http.post(self.url(mma["href"]), json={"supportedModalities": ["Messaging"]}, headers=self.headers()),
                "caller makeMeAvailable",
            )

    def start_messaging(self) -> None:
        stage = "caller startMessaging"
        comm = self.app["_embedded"]["communication"]
        link = comm["_links"].get("startMessaging")
        if not link:
            # The link may only appear once available: re-read the communication resource.
            comm = self.expect(self.http.get(self.url(comm["_links"]["self"]["href"]), headers=self.headers()), stage).json()
            link = comm["_links"].get("startMessaging")
        if not link:
            raise HarnessFailure(stage, "communication has no startMessaging link", "server gap (route/resource missing)")
        body = {
            "operationId": uuid.uuid4().hex,
            "to": self.ctx.bot_sip,
            "importance": "Normal",
            "subject": "ucwa-py compatibility harness",
        }
        if self.ctx.args.invitation_message:
            body["message"] = "data:text/plain;charset=utf-8," + urllib.parse.quote(self.ctx.args.invitation_message)
        resp = self.http.post(self.url(link["href"]), json=body, headers=self.headers())
        self.expect(resp, stage, ok=(201, 200, 204))

    # -- event channel -----------------------------------------------------------------------

    def poll_until(self, done, stage: str) -> None:
        """Long-polls the caller's event channel until done() or the deadline."""
        while not done():
            self.check_bot(stage)
            if self.ctx.deadline.expired():
                raise HarnessFailure(stage, "overall timeout while waiting on the caller's event channel", "timeout")
            # Short P-GET slices so a dead bot is noticed quickly. Re-issuing the same ack
            # after a client-side timeout is safe (the server re-sends / 409s the old one).
            slice_s = max(1.0, min(5.0, self.ctx.deadline.remaining()))
            try:
                resp = self.http.get(self.events_url, headers=self.headers(), timeout=(3.0, slice_s))
            except requests.Timeout:
                continue
            except TimeoutError:
                continue
            if resp.status_code == 409:
                continue  # PGetReplaced: our previous, abandoned P-GET was released
            self.expect(resp, stage, ok=(200,))
            batch = resp.json()
            links = batch.get("_links", {})
            for sender in batch.get("sender", []):
                for ev in sender.get("events", []):
                    self.on_event(sender.get("rel"), ev)
            nxt = links.get("next") or links.get("resume") or links.get("resync")
            if not nxt:
                raise HarnessFailure(stage, f"event batch without next/resume/resync link: {_short(json.dumps(batch))}", "server")
            self.events_url = self.url(nxt["href"])

    def on_event(self, sender_rel: str | None, ev: dict) -> None:
        link = ev.get("link", {})
        rel, etype = link.get("rel"), ev.get("type")
        emb = (ev.get("_embedded") or {}).get(rel) or {}
        if rel == "messagingInvitation":
            if etype == "completed":
                self.invitation_status = ev.get("status")
                self.invitation_reason = ev.get("reason")
            conv = emb.get("_links", {}).get("conversation")
            if conv:
                self.conversation_href = conv["href"]
        elif rel == "conversation" and etype in ("added", "updated"):
            self.conversation_href = link.get("href") or self.conversation_href
        elif rel == "messaging" and etype in ("added", "updated"):
            if emb.get("state"):
                self.messaging_state = emb["state"]
            send = emb.get("_links", {}).get("sendMessage")
            if send:
                self.send_message_href = send["href"]
        elif rel == "message":
            direction = emb.get("direction")
            links = emb.get("_links", {})
            if direction == "Incoming":
                for key in ("plainMessage", "htmlMessage"):
                    if key in links:
                        self.incoming_texts.append(decode_data_uri(links[key]["href"]))
                        break
            elif direction == "Outgoing" and ev.get("status") == "Failure":
                self.outgoing_message_failures.append(ev.get("reason") or {})

    def connected(self) -> bool:
        """Done when the invitation completed with Success, or messaging is Connected with a
        sendMessage link (whichever the server reports first)."""
        if self.invitation_status == "Failure":
            raise HarnessFailure(
                "wait for messaging Connected",
                f"the caller's messagingInvitation completed with Failure: {self.invitation_reason}",
                "server/bot declined or failed the invitation",
            )
        if self.invitation_status == "Success":
            return True
        return self.messaging_state == "Connected" and self.send_message_href is not None

    def resolve_send_message(self) -> None:
        """Falls back to GET conversation -> messaging if no event carried sendMessage."""
        if self.send_message_href or not self.conversation_href:
            return
        conv = self.http.get(self.url(self.conversation_href), headers=self.headers())
        if conv.status_code != 200:
            return
        mhref = conv.json().get("_links", {}).get("messaging", {}).get("href")
        if not mhref:
            return
        msg = self.http.get(self.url(mhref), headers=self.headers())
        if msg.status_code == 200:
            body = msg.json()
            self.messaging_state = body.get("state", self.messaging_state)
            send = body.get("_links", {}).get("sendMessage")
            if send:
                self.send_message_href = send["href"]

    def send_message(self, text: str) -> None:
        stage = "caller sendMessage"
        resp = self.http.post(
            self.url(self.send_message_href),
            data=text.encode("utf-8"),
            headers=self.headers(**{"Content-Type": "text/plain; charset=utf-8"}),
        )
        self.expect(resp, stage, ok=(201, 200, 204))

    def check_bot(self, stage: str) -> None:
        st = self.ctx.bot
        if st.error:
            raise HarnessFailure(f"bot: {st.stage}", st.error, st.error_kind or "bot")
        if st.reply_errors:
            raise HarnessFailure("bot: sending the reply", st.reply_errors[0], "bot reply failed")

    def cleanup(self) -> None:
        # Best effort: delete the caller's application and the bot's (with the bot's token),
        # with a few seconds of its own so it also runs after the overall deadline.
        http = BoundedHttp("cleanup", self.ctx.recorder, Deadline(5.0), poll_cap=2.0)
        for token, app in ((self.token, self.app), (self.ctx.bot_token, self.ctx.bot.app)):
            if not token or not app:
                continue
            try:
                http.delete(
                    self.url(app["_links"]["self"]["href"]),
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=(1.0, 2.0),
                )
            except Exception:  # noqa: BLE001
                pass


def decode_data_uri(href: str) -> str:
    """Decodes a UCWA data-URI link (URL-encoded, '+' for space, or ;base64)."""
    if not href.startswith("data:") or "," not in href:
        return href
    meta, data = href[5:].split(",", 1)
    charset = "utf-8"
    m = re.search(r"charset=([\w.+-]+)", meta, re.I)
    if m:
        charset = m.group(1)
    if meta.endswith(";base64"):
        return base64.b64decode(urllib.parse.unquote(data)).decode(charset, "replace")
    return urllib.parse.unquote_plus(data, encoding=charset)


# ---------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------


class Harness:
    def __init__(self, args):
        self.args = args
        self.base = args.base_url.rstrip("/")
        self.deadline = Deadline(args.timeout)
        self.recorder = Recorder(args.verbose)
        self.stop = threading.Event()
        self.bot = BotState()
        self.bot_sip = args.bot_user if args.bot_user.lower().startswith("sip:") else f"sip:{args.bot_user}"
        self.bot_token: str | None = None
        # ucwa only reads config['redirect_uri'], which it sends as Origin and Referer.
        self.bot_config = {"redirect_uri": self.base}
        self.logs = LogCapture()
        self.notes: list[str] = []
        self.nonce = uuid.uuid4().hex[:12]
        self.bot_http = BoundedHttp("bot", self.recorder, self.deadline, poll_cap=args.timeout)
        self.actions = self.events = None

    def on_message(self, inbound_message, thread_uri, resource):
        """ucwa.events.MESSAGE_CALLBACK(inbound_message, thread_uri, resource).

        The callback gets no token, so the bot's token comes from this closure. The reply is
        sent with the library's own send_message (POST text/plain to
        resource + thread_uri + '/messages', events.py:77). It is passed as UTF-8 bytes: given
        a str, requests/http.client encode the body as Latin-1 (actions.py:86), which raises
        UnicodeEncodeError for anything outside Latin-1.
        """
        self.bot.inbound.append(inbound_message)
        reply = f"echo: {inbound_message.strip()}"
        try:
            self.actions.send_message(resource + thread_uri + "/messages", reply.encode("utf-8"), self.bot_token, self.bot_config["redirect_uri"])
            self.bot.replies_sent.append(reply)
        except Exception as e:  # noqa: BLE001
            kind = classify_http_error(e) if isinstance(e, requests.HTTPError) else type(e).__name__
            self.bot.reply_errors.append(f"[{kind}] {type(e).__name__}: {e}")
            raise

    def run(self) -> int:
        caller = None
        stage = "setup"
        try:
            if not is_loopback_url(self.base):
                raise HarnessFailure("setup", f"--base-url must be a loopback address, got {self.base}", "usage")
            logging.getLogger().addHandler(self.logs)
            logging.getLogger().setLevel(logging.DEBUG)
            for noisy in ("urllib3", "requests", "charset_normalizer"):
                logging.getLogger(noisy).setLevel(logging.WARNING)
            self.actions, self.events, _ = install_compat_patches(self.bot_http)
            self.events.MESSAGE_CALLBACK = self.on_message

            caller = Caller(self)
            stage = "discovery + token"
            user_href, token_url = caller.discover_token_endpoint()
            self.bot_token = caller.password_grant(token_url, self.args.bot_user, self.args.bot_password, "bot")
            self.probe_library_discovery()

            stage = "bot start"
            threading.Thread(target=run_bot, args=(self,), name="ucwa-bot", daemon=True).start()

            stage = "caller setup"
            caller.setup(user_href, token_url)

            stage = "bot registration + makeMeAvailable"
            while not self.bot.available.wait(0.1):
                caller.check_bot(stage)
                if self.deadline.expired():
                    raise HarnessFailure(stage, "bot did not become available in time", "timeout")
            # Give the bot its first event batch (me/communication updated, Medium priority:
            # held up to 5 s) so problems handling it show up here rather than later.
            first_wait = time.monotonic() + min(10.0, max(0.0, self.deadline.remaining() - 1))
            while not self.bot.first_batch.wait(0.1) and time.monotonic() < first_wait:
                caller.check_bot("bot first event batch")
            caller.check_bot("bot first event batch")
            if not self.bot.first_batch.is_set():
                self.notes.append("the bot's first event-channel GET returned nothing within 10 s (no me/communication updated after makeMeAvailable?)")

            stage = "caller startMessaging"
            caller.start_messaging()

            stage = "wait for messaging Connected (bot must accept the invitation)"
            caller.poll_until(caller.connected, stage)
            caller.resolve_send_message()
            if not caller.send_message_href:
                raise HarnessFailure(stage, "invitation succeeded but no sendMessage link was found (event or messaging resource)", "server")

            stage = "caller sendMessage"
            ping = f"ping {self.nonce}"
            caller.send_message(ping)

            stage = "wait for the bot's reply"

            def replied() -> bool:
                if caller.outgoing_message_failures:
                    raise HarnessFailure(stage, f"the caller's message completed with Failure: {caller.outgoing_message_failures[0]}", "server")
                return any(self.nonce in t and t.startswith("echo:") for t in caller.incoming_texts)

            caller.poll_until(replied, stage)

            self.collect_notes(caller)
            self.stop.set()
            print(f"ucwa {UCWA_VERSION} bot: registered, available, accepted the invitation, replied {caller.incoming_texts[-1]!r}")
            self.print_patches()
            self.print_notes()
            print("1 passed, 0 failed")
            return 0
        except HarnessFailure as f:
            self.stop.set()
            self.diagnose(f.stage, str(f), f.kind, caller)
        except Exception as e:  # noqa: BLE001
            self.stop.set()
            self.diagnose(stage, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}", "harness/unexpected", caller)
        finally:
            if caller is not None and not self.args.keep_applications:
                caller.cleanup()
        return 1

    def probe_library_discovery(self) -> None:
        """The library's own user discovery (actions.do_user_discovery) is not needed by the
        bot flow, but we try it and report the result: it uses a fixed, mixed-case path."""
        try:
            self.actions.do_user_discovery(self.base, self.bot_token, self.bot_config)
        except Exception as e:  # noqa: BLE001
            self.notes.append(
                "ucwa.actions.do_user_discovery (GET /Autodiscover/AutodiscoverService.svc/root/oauth/user, mixed case, "
                f"actions.py:19-22) failed: {type(e).__name__}: {_short(str(e), 160)}. Real Lync/IIS paths are "
                "case-insensitive; the bot flow does not need this call."
            )

    def collect_notes(self, caller: Caller) -> None:
        pings = [t for t in self.bot.inbound if self.nonce in t]
        if len(pings) > 1:
            self.notes.append(f"the bot saw the caller's message {len(pings)} times (more than one Incoming message event per message) and replied each time")
        hi = [t for t in caller.incoming_texts if t.strip() == "hi"]
        if hi:
            self.notes.append("the caller received the library's automatic 'hi' (sent on conversation 'added', events.py:53-55)")

    def print_patches(self) -> None:
        print("compat patches applied to ucwa inside the harness:")
        for p in APPLIED_PATCHES:
            print(f"  - {p}")

    def print_notes(self) -> None:
        if self.notes:
            print("compat notes:")
            for n in self.notes:
                print(f"  - {n}")

    def diagnose(self, stage: str, message: str, kind: str, caller: Caller | None) -> None:
        print("=" * 78)
        print("DIAGNOSIS")
        print(f"failed at : {stage}")
        print(f"kind      : {kind}")
        print("detail    :")
        for line in message.rstrip().splitlines():
            print(f"    {line}")
        print(f"bot stage : {self.bot.stage}; batches processed: {self.bot.batches}; "
              f"inbound: {self.bot.inbound!r}; replies: {self.bot.replies_sent!r}")
        if self.bot.error and not stage.startswith("bot"):
            print("bot error :")
            for line in self.bot.error.rstrip().splitlines():
                print(f"    {line}")
        if caller is not None:
            print(f"caller    : invitation={caller.invitation_status} messaging={caller.messaging_state} "
                  f"sendMessage={'yes' if caller.send_message_href else 'no'} incoming={caller.incoming_texts!r}")
        interesting = [l for l in self.logs.lines if not l.startswith("DEBUG")]
        if interesting:
            print("ucwa log (non-debug):")
            for line in interesting[-15:]:
                print(f"    {line}")
        print("last HTTP exchanges:")
        for ex in self.recorder.tail(30):
            path = ex.url[len(self.base):] if ex.url.startswith(self.base) else ex.url
            print(f"    [{ex.side:6}] {ex.method:6} {path} -> {ex.status} ({ex.elapsed:.2f}s) {ex.note}".rstrip())
        self.print_patches()
        self.print_notes()
        print("=" * 78)
        print("0 passed, 1 failed")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:18099 (loopback only)")
    p.add_argument("--bot-user", required=True, help="SIP URI or user@domain the ucwa bot signs in as")
    p.add_argument("--bot-password", required=True)
    p.add_argument("--caller-user", required=True, help="the test user who sends the invitation")
    p.add_argument("--caller-password", required=True)
    p.add_argument("--timeout", type=float, default=60.0, help="overall time limit, seconds (default 60)")
    p.add_argument("--invitation-message", default=None,
                   help="also send this text as the startMessaging `message` data URI (off by default)")
    p.add_argument("--first-sender-only", action="store_true",
                   help="process only sender[0] of each batch, exactly like upstream pyucwa app.py")
    p.add_argument("--keep-applications", action="store_true", help="do not DELETE the two applications at the end")
    p.add_argument("--verbose", "-v", action="store_true", help="print every HTTP exchange as it happens")
    args = p.parse_args(argv)
    # ucwa print()s from the bot thread; keep them in order with ours when piped.
    sys.stdout.reconfigure(line_buffering=True)
    code = Harness(args).run()
    sys.stdout.flush()
    # The bot thread may still be parked in a long-poll; it is a daemon, but os._exit also
    # skips interpreter teardown of its socket.
    os._exit(code)


if __name__ == "__main__":
    main()
