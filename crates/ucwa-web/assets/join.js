// The join page of one meeting (served at its joinUrl): join as a guest (the anonymous
// meeting grant, with the meeting's id and URI the server embedded in the page) or sign in
// (the password grant), then the meeting itself. A reload resumes from sessionStorage.

import { ANONYMOUS_GRANT, Saved, request, signIn } from './ucwa.js';
import { MeetingPage, errorText } from './meeting-page.js';

const main = document.getElementById('main');
const start = document.getElementById('start');
const meetingSection = document.getElementById('meeting');
const error = document.getElementById('start-error');
const meetingId = main.dataset.meetingId;
const meetingUri = main.dataset.meetingUri;
const subject = document.getElementById('meeting-title').textContent;

const saved = new Saved(`openucwa:join:${meetingId}`);
const page = new MeetingPage({
  saved,
  root: meetingSection,
  banner: document.getElementById('connection'),
  notice: document.getElementById('notice'),
  againLabel: 'Join again',
  onAgain: () => restart(),
});

function showMeeting() {
  start.hidden = true;
  meetingSection.hidden = false;
}

async function restart() {
  const session = page.session;
  page.stop();
  saved.clear();
  page.data = {};
  meetingSection.hidden = true;
  meetingSection.replaceChildren();
  start.hidden = false;
  document.getElementById('meeting-title').focus();
  // Close the old application rather than let it idle until it expires.
  if (session) request('DELETE', session.appHref, { token: session.token }).catch(() => {});
}

async function enter(form, grant, extra) {
  error.textContent = '';
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const session = await signIn(grant);
    await page.begin(session);
    showMeeting();
    await page.join(meetingUri, subject, extra);
  } catch (e) {
    page.stop();
    saved.clear();
    error.textContent = errorText(e);
  } finally {
    button.disabled = false;
  }
}

document.getElementById('guest-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = document.getElementById('guest-name').value.trim();
  if (!name) {
    error.textContent = 'Enter your name, so that the people in the meeting know who you are.';
    document.getElementById('guest-name').focus();
    return;
  }
  enter(ev.target, { grant_type: ANONYMOUS_GRANT, password: meetingId, ms_rtc_conferenceuri: meetingUri },
    { anonymousDisplayName: name });
});

document.getElementById('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const username = document.getElementById('signin-uri').value.trim();
  const password = document.getElementById('signin-password').value;
  enter(ev.target, { grant_type: 'password', username, password });
});

if (page.session && page.meeting) {
  showMeeting();
  page.listen();
}
