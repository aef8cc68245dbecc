// The join page and the console, end to end in Chromium against the real server: an
// organizer and guests, each in their own browser context.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, MEMBER, PUSH, accessible, consoleSignIn, createMeeting, joinAsGuest, launch, person, shot, waitingInLobby } from './lib.mjs';

let browser;
let organizer; // { context, page } of the organizer, in the meeting from the first test on
let joinUrl;

before(async () => {
  browser = await launch();
  organizer = await person(browser);
});
after(async () => { await browser?.close(); });

const lobbyPanel = () => organizer.page.locator('#lobby-panel');

describe('a Locked meeting', () => {
  test('the organizer creates it in the console and starts it', async () => {
    const { page } = organizer;
    await page.goto('/console');
    await accessible(page, 'console sign-in');
    await shot(page, 'console-sign-in');
    await consoleSignIn(page);
    await page.getByRole('button', { name: 'New meeting' }).click();
    await accessible(page, 'meeting form');
    await shot(page, 'console-new-meeting');
    await page.getByRole('button', { name: 'Cancel' }).click();
    joinUrl = await createMeeting(page, 'Weekly sync', 'Locked');
    assert.match(joinUrl, /\/meet\/alice\/[A-Z0-9]+$/);
    await accessible(page, 'meeting list');
    await shot(page, 'console-meetings');
    await page.getByRole('button', { name: 'Start Weekly sync' }).click();
    await page.getByRole('heading', { name: 'People (1)' }).waitFor(PUSH);
    await page.getByText('Nobody is waiting.').waitFor();
  });

  test('the join URL answers a browser with the join page and an API client with JSON', async () => {
    const html = await fetch(joinUrl, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type'), /text\/html/);
    const json = await fetch(joinUrl, { headers: { Accept: 'application/json' } });
    assert.equal(json.status, 404);
    assert.equal((await json.json()).code, 'NotFound');
  });

  test('a guest joins as Grace, waits, is admitted, sees the roster and chats', async () => {
    const grace = await person(browser);
    await grace.page.goto(joinUrl);
    await grace.page.getByRole('heading', { name: 'Weekly sync' }).waitFor();
    await grace.page.getByText('Organized by Alice').waitFor();
    await accessible(grace.page, 'join page');
    await shot(grace.page, 'join-page');
    await joinAsGuest(grace.page, joinUrl, 'Grace');
    await waitingInLobby(grace.page);
    await grace.page.getByText(/Time waited: 0:0\d/).waitFor();
    await accessible(grace.page, 'lobby');
    await shot(grace.page, 'guest-lobby');

    // The organizer is told: a visible notice, the tab title, and Grace in the lobby panel.
    const { page } = organizer;
    await page.locator('#notice', { hasText: 'Grace is waiting in the lobby.' }).waitFor(PUSH);
    assert.match(await page.title(), /^\(1\) Grace waiting/);
    await lobbyPanel().getByText('Grace').waitFor();
    await accessible(page, 'organizer with someone in the lobby');
    await shot(page, 'organizer-lobby');
    await page.getByRole('button', { name: 'Admit Grace' }).click();

    await grace.page.getByRole('heading', { name: 'People (2)' }).waitFor(PUSH);
    const roster = grace.page.locator('#roster-list');
    await roster.getByText('Grace (you)').waitFor();
    await roster.getByText('Alice Organizer').waitFor();
    assert.equal(await grace.page.locator('#lobby-panel').isHidden(), true, 'attendees see no lobby panel');
    await page.getByRole('heading', { name: 'People (2)' }).waitFor(PUSH);
    await lobbyPanel().getByText('Nobody is waiting.').waitFor();
    assert.doesNotMatch(await page.title(), /waiting/);

    await grace.page.getByRole('button', { name: 'Send' }).and(grace.page.locator(':enabled')).waitFor(PUSH);
    await grace.page.getByLabel('Message', { exact: true }).fill('Hello from Grace');
    await grace.page.getByRole('button', { name: 'Send' }).click();
    await page.locator('#chat-log').getByText('Hello from Grace').waitFor(PUSH);
    await page.locator('#chat-log').getByText(/^Grace · /).waitFor();
    await page.getByRole('button', { name: 'Send' }).and(page.locator(':enabled')).waitFor(PUSH);
    await page.getByLabel('Message', { exact: true }).fill('Welcome, Grace!');
    await page.keyboard.press('Enter');
    await grace.page.locator('#chat-log').getByText('Welcome, Grace!').waitFor(PUSH);
    await grace.page.locator('#chat-log').getByText(/^You · \d/).waitFor(PUSH);
    await accessible(grace.page, 'meeting view (attendee)');
    await accessible(page, 'meeting view (leader)');
    await shot(grace.page, 'guest-meeting');
    await shot(page, 'organizer-meeting');

    // Grace loses the network for a moment: the page says so, retries, and misses nothing.
    await grace.context.setOffline(true);
    await grace.page.getByText(/Connection lost\. Trying again/).waitFor(PUSH);
    await shot(grace.page, 'guest-connection-lost');
    await page.getByLabel('Message', { exact: true }).fill('Did you get this?');
    await page.keyboard.press('Enter');
    await grace.context.setOffline(false);
    await grace.page.locator('#chat-log').getByText('Did you get this?').waitFor({ timeout: 20_000 });

    // The organizer removes her.
    await page.getByRole('button', { name: 'Remove Grace' }).click();
    await grace.page.getByRole('heading', { name: 'You were removed from the meeting' }).waitFor(PUSH);
    await page.getByRole('heading', { name: 'People (1)' }).waitFor(PUSH);
    await grace.context.close();
  });

  test('a guest whose meeting outlasts her token renews it and stays in as herself', async () => {
    const ivy = await person(browser);
    // The page's clock, so an hour can pass in a moment; the server keeps its own time.
    await ivy.context.clock.install();
    await joinAsGuest(ivy.page, joinUrl, 'Ivy');
    await waitingInLobby(ivy.page);
    const { page } = organizer;
    await page.getByRole('button', { name: 'Admit Ivy' }).click();
    await ivy.page.locator('#roster-list').getByText('Ivy (you)').waitFor(PUSH);
    const saved = () => ivy.page.evaluate(() => {
      const key = Object.keys(sessionStorage).find((k) => k.startsWith('openucwa:join:'));
      return JSON.parse(sessionStorage.getItem(key)).session;
    });
    const first = await saved();

    // Ten minutes before the hour is up, the page asks for a new token for the same guest.
    const renewal = ivy.page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/WebTicket/oauthtoken'));
    await ivy.context.clock.fastForward('50:00');
    const asked = await renewal;
    assert.equal(new URLSearchParams(asked.postData()).get('ms_rtc_renew'), first.token);
    const answer = await (await asked.response()).json();
    assert.notEqual(answer.access_token, first.token);
    await ivy.page.waitForFunction((t) => Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k).includes(t)), answer.access_token);
    assert.equal((await saved()).token, answer.access_token, 'kept for a reload');

    // What she does next goes with the new token, and it is still Ivy, once, in the meeting.
    await ivy.page.getByRole('button', { name: 'Send' }).and(ivy.page.locator(':enabled')).waitFor(PUSH);
    const sent = ivy.page.waitForRequest((r) => r.method() === 'POST' && r.postData() === 'Still here');
    await ivy.page.getByLabel('Message', { exact: true }).fill('Still here');
    await ivy.page.getByRole('button', { name: 'Send' }).click();
    assert.equal((await sent).headers().authorization, `Bearer ${answer.access_token}`);
    await page.locator('#chat-log').getByText('Still here').waitFor(PUSH);
    assert.equal(await page.locator('#roster-list').getByText('Ivy').count(), 1);
    await page.getByRole('button', { name: 'Remove Ivy' }).click();
    await ivy.page.getByRole('heading', { name: 'You were removed from the meeting' }).waitFor(PUSH);
    await ivy.context.close();
  });

  test('a leader rejects a guest, who is told why', async () => {
    const guest = await person(browser);
    await joinAsGuest(guest.page, joinUrl, 'Mallory');
    await waitingInLobby(guest.page);
    await organizer.page.getByRole('button', { name: 'Reject Mallory' }).click();
    await guest.page.getByRole('heading', { name: 'You were not let in' }).waitFor(PUSH);
    await guest.page.getByText('declined your request to join').waitFor();
    await accessible(guest.page, 'rejected');
    await shot(guest.page, 'guest-rejected');
    await lobbyPanel().getByText('Nobody is waiting.').waitFor(PUSH);
    await guest.context.close();
  });

  test('a guest cancels while waiting', async () => {
    const guest = await person(browser);
    await joinAsGuest(guest.page, joinUrl, 'Carl');
    await waitingInLobby(guest.page);
    await lobbyPanel().getByText('Carl').waitFor(PUSH);
    await guest.page.getByRole('button', { name: 'Cancel' }).click();
    await guest.page.getByRole('heading', { name: 'You stopped waiting' }).waitFor(PUSH);
    await lobbyPanel().getByText('Nobody is waiting.').waitFor(PUSH);
    // Join again starts over on the join page.
    await guest.page.getByRole('button', { name: 'Join again' }).click();
    await guest.page.getByRole('button', { name: 'Join as guest' }).waitFor();
    await guest.context.close();
  });

  test('a guest reloads while waiting, keeps the place and is then admitted', async () => {
    const guest = await person(browser);
    await joinAsGuest(guest.page, joinUrl, 'Rita');
    await waitingInLobby(guest.page);
    await lobbyPanel().getByText('Rita').waitFor(PUSH);
    await guest.page.waitForTimeout(1100); // so that the time waited shows more than 0:00
    await guest.page.reload();
    await waitingInLobby(guest.page);
    assert.notEqual(await guest.page.locator('#waited').textContent(), '0:00', 'the wait goes on from where it was');
    assert.equal(await lobbyPanel().getByText('Rita').count(), 1, 'still one Rita in the lobby');
    await organizer.page.getByRole('button', { name: 'Admit Rita' }).click();
    await guest.page.locator('#roster-list').getByText('Rita (you)').waitFor(PUSH);
    // A reload in the meeting keeps the meeting too.
    await guest.page.reload();
    await guest.page.locator('#roster-list').getByText('Alice Organizer').waitFor(PUSH);
    await guest.page.getByRole('button', { name: 'Leave' }).click();
    await guest.page.getByRole('heading', { name: 'You left the meeting' }).waitFor(PUSH);
    await guest.context.close();
  });

  test('the organizer admits with the keyboard alone', async () => {
    const guest = await person(browser);
    await joinAsGuest(guest.page, joinUrl, 'Kim');
    await waitingInLobby(guest.page);
    const { page } = organizer;
    await page.getByRole('button', { name: 'Admit Kim' }).waitFor(PUSH);
    await page.locator('body').focus();
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'Admit Kim');
    }
    assert.ok(reached, 'Tab reaches the Admit button');
    await page.keyboard.press('Enter');
    await guest.page.locator('#roster-list').getByText('Kim (you)').waitFor(PUSH);
    // Focus is not lost when the button goes away with Kim leaving the lobby.
    await lobbyPanel().getByText('Nobody is waiting.').waitFor(PUSH);
    assert.notEqual(await page.evaluate(() => document.activeElement?.tagName), 'BODY');
    await guest.context.close();
  });

  test('Admit all lets everyone waiting in at once', async () => {
    const guests = [await person(browser), await person(browser)];
    await joinAsGuest(guests[0].page, joinUrl, 'Ann');
    await joinAsGuest(guests[1].page, joinUrl, 'Ben');
    await Promise.all(guests.map((g) => waitingInLobby(g.page)));
    const { page } = organizer;
    await lobbyPanel().getByText('Ben').waitFor(PUSH);
    await page.locator('#notice', { hasText: 'waiting in the lobby' }).waitFor();
    assert.match(await page.title(), /^\(2\) Ann, Ben waiting/);
    await page.getByRole('button', { name: 'Admit all' }).click();
    await guests[0].page.locator('#roster-list').getByText('Ann (you)').waitFor(PUSH);
    await guests[1].page.locator('#roster-list').getByText('Ben (you)').waitFor(PUSH);
    await lobbyPanel().getByText('Nobody is waiting.').waitFor(PUSH);
    await Promise.all(guests.map((g) => g.context.close()));
  });

  test('a page whose saved ack the server no longer knows re-reads the meeting (resync)', async () => {
    const guest = await person(browser);
    await joinAsGuest(guest.page, joinUrl, 'Sam');
    await waitingInLobby(guest.page);
    await organizer.page.getByRole('button', { name: 'Admit Sam' }).click();
    await guest.page.locator('#roster-list').getByText('Sam (you)').waitFor(PUSH);
    // The first read of the leaders (where the organizer is) gets no answer, as on a network
    // that drops a request: the re-read tries it again rather than leave her off the roster.
    let dropped = 0;
    await guest.page.route((url) => url.pathname.endsWith('/leaders') && dropped === 0, (route) => {
      dropped += 1;
      return route.abort('connectionreset');
    });
    // Forget the roster and point the saved channel at an ack from nowhere, as a stale copy of
    // the page would have; the server answers with only a resync link. (Done as the reloaded
    // page starts, so no batch the old page receives meanwhile saves the real ack over it.)
    await guest.page.addInitScript(() => {
      const key = Object.keys(sessionStorage).find((k) => k.startsWith('openucwa:join:'));
      const saved = JSON.parse(sessionStorage.getItem(key));
      saved.next = saved.next.replace(/ack=\d+/, 'ack=999999');
      saved.meeting.participants = {};
      sessionStorage.setItem(key, JSON.stringify(saved));
    });
    await guest.page.reload();
    await guest.page.locator('#roster-list').getByText('Alice Organizer').waitFor(PUSH);
    await guest.page.getByRole('heading', { name: /^People \(\d+\)$/ }).waitFor();
    assert.equal(dropped, 1, 'the resync read the leaders, and the first read was dropped');
    await guest.context.close();
  });

  test('a signed-in member is admitted, promoted and demoted', async () => {
    const bob = await person(browser);
    await bob.page.goto(joinUrl);
    await bob.page.getByLabel('SIP address').fill(MEMBER.uri);
    await bob.page.getByLabel('Password', { exact: true }).fill(MEMBER.password);
    await bob.page.getByRole('button', { name: 'Sign in and join' }).click();
    await waitingInLobby(bob.page);
    const { page } = organizer;
    await page.getByRole('button', { name: 'Admit Bob Attendee' }).click();
    await bob.page.getByText('you are an attendee').waitFor(PUSH);
    await page.getByRole('button', { name: 'Promote Bob Attendee' }).click();
    await bob.page.getByText('you are a leader').waitFor(PUSH);
    await bob.page.locator('#lobby-panel').waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'Demote Bob Attendee' }).click();
    await bob.page.getByText('you are an attendee').waitFor(PUSH);
    assert.equal(await bob.page.locator('#lobby-panel').isHidden(), true);
    await bob.context.close();
  });

  test('on a phone-sized screen the pages fit without sideways scrolling', async () => {
    const phone = await person(browser, { width: 375, height: 812 });
    await phone.page.goto(joinUrl);
    await shot(phone.page, 'phone-join-page');
    const fits = () => phone.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    assert.ok(await fits(), 'join page fits 375 px');
    await joinAsGuest(phone.page, joinUrl, 'Pat');
    await waitingInLobby(phone.page);
    assert.ok(await fits(), 'lobby fits 375 px');
    await organizer.page.getByRole('button', { name: 'Admit Pat' }).click();
    await phone.page.locator('#roster-list').getByText('Pat (you)').waitFor(PUSH);
    assert.ok(await fits(), 'meeting view fits 375 px');
    await shot(phone.page, 'phone-meeting');
    // Deleting the meeting ends it for everyone in it.
    const { page } = organizer;
    await page.getByRole('button', { name: 'Leave' }).click();
    await page.getByRole('button', { name: 'Back to my meetings' }).click();
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Delete Weekly sync' }).click();
    await phone.page.getByRole('heading', { name: 'The meeting has ended' }).waitFor(PUSH);
    await phone.context.close();
  });
});

describe('the console', () => {
  test('edits and deletes meetings; a deleted meeting link says so', async () => {
    const { page } = organizer;
    const url = await createMeeting(page, 'Planning', 'Everyone');
    await page.getByRole('button', { name: 'Edit Planning' }).click();
    await page.getByLabel('Subject').fill('Planning (moved)');
    await page.getByLabel('Who gets in without waiting').selectOption('Invited');
    await page.getByLabel('Leaders', { exact: true }).fill('sip:bob@example.com');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const item = page.locator('.meeting-item', { has: page.getByRole('heading', { name: 'Planning (moved)' }) });
    await item.getByText('Invited people get in').waitFor();
    await item.getByText('leaders: sip:bob@example.com').waitFor();
    // A bad value is refused with the server's reason, naming the field.
    await page.getByRole('button', { name: 'Edit Planning (moved)' }).click();
    await page.getByLabel('Attendees').fill('not a sip address');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#form-error', { hasText: 'attendees' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Delete Planning (moved)' }).click();
    await page.getByText('No meetings yet.').waitFor();

    const visitor = await person(browser);
    await visitor.page.goto(url);
    await visitor.page.getByRole('heading', { name: 'Meeting not found' }).waitFor();
    await accessible(visitor.page, 'bad link');
    await shot(visitor.page, 'bad-link');
    await visitor.page.goto(`${BASE_URL}/meet/nobody/NOSUCHID`);
    await visitor.page.getByRole('heading', { name: 'Meeting not found' }).waitFor();
    await visitor.context.close();
  });
});
