// Publishing end to end in a real browser, against the real `earshot` binary: an account
// registered with the CLI (its token read from stdin and encrypted), an author who drafts a
// post in the editor and submits it, a reviewer of the account's approval step who approves
// it, and the author who schedules it; the post's history and the calendar show each step.
// A second post is scheduled a few seconds ahead and `earshot serve`'s publishing worker puts
// it on a local server that answers like Mastodon's `POST /api/v1/statuses`: the post page
// then shows it published with the network's link, and the server got it exactly once.
//
// Run: cd tests/browser && npm install && node --test
// EARSHOT_BIN overrides the binary (default: target/debug/earshot), CHROMIUM the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as cli from './support.mjs';

const earshot = (...args) => cli.earshot(workspace, ...args);
const earshotWithInput = (input, ...args) => cli.earshotWithInput(workspace, input, ...args);

const AUTHOR = 'ada';
const REVIEWER = 'lena';
const PASSWORD = 'publishing browser test password';

let workspace;
let server;
let mastodon;
const statuses = [];
let baseUrl;
let browser;
let authorPage;
let reviewerPage;

async function signIn(page, name) {
  await page.goto(`${baseUrl}/login`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')), page.click('form.login button')]);
}

// A form post that answers with a redirect to the post: wait for the page it lands on.
async function clickAndLoad(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

// Mastodon as far as publishing goes (https://docs.joinmastodon.org/methods/statuses/#create):
// a status per Idempotency-Key, as the real server keeps them.
function startMastodon() {
  return new Promise((resolve) => {
    const byKey = new Map();
    const httpServer = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => { body += chunk; });
      request.on('end', () => {
        if (request.method !== 'POST' || request.url !== '/api/v1/statuses') {
          response.writeHead(404, { 'Content-Type': 'application/json' });
          response.end(JSON.stringify({ error: 'Record not found' }));
          return;
        }
        let params;
        try { params = JSON.parse(body); } catch { params = Object.fromEntries(new URLSearchParams(body)); }
        const key = request.headers['idempotency-key'];
        let status = key && byKey.get(key);
        if (!status) {
          const id = String(120000 + statuses.length + 1);
          const base = `http://127.0.0.1:${httpServer.address().port}`;
          status = {
            id, uri: `${base}/users/shop/statuses/${id}`, url: `${base}/@shop/${id}`,
            created_at: new Date().toISOString(), content: `<p>${params.status || ''}</p>`,
            visibility: params.visibility || 'public', in_reply_to_id: null,
            account: { id: '1', username: 'shop', acct: 'shop', display_name: 'Shop' },
            media_attachments: [], mentions: [], tags: [],
          };
          statuses.push({ key, authorization: request.headers.authorization, params });
          if (key) byKey.set(key, status);
        }
        response.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
        response.end(JSON.stringify(status));
      });
    });
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer));
  });
}

before(async () => {
  mastodon = await startMastodon();
  workspace = await mkdtemp(path.join(tmpdir(), 'earshot-publishing-browser-'));
  await earshot('init');
  await appendFile(path.join(workspace, 'earshot.toml'), `
[[team]]
name = "legal"
members = ["${REVIEWER}"]
`);
  await earshotWithInput(`${PASSWORD}\n`, 'user', 'add', AUTHOR, '--role', 'agent');
  await earshotWithInput(`${PASSWORD}\n`, 'user', 'add', REVIEWER, '--role', 'manager');
  await earshot('campaign', 'add', 'Spring Service', '--goal', 'leads');
  await earshotWithInput('secret-access-token\n', 'account', 'add', 'shop', '--network', 'mastodon',
    '--handle', '@shop@social.example', '--server', `http://127.0.0.1:${mastodon.address().port}`, '--owner', AUTHOR,
    '--purpose', 'news for customers', '--language', 'en', '--step', 'legal');

  const port = await cli.freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  server = await cli.startServer(workspace, port, ['--no-poll']);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  for (const which of ['author', 'reviewer']) {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    if (which === 'author') authorPage = page; else reviewerPage = page;
  }
  await signIn(authorPage, AUTHOR);
  await signIn(reviewerPage, REVIEWER);
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const stopped = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGINT');
    await stopped;
  }
  mastodon?.close();
  if (workspace) await rm(workspace, { recursive: true, force: true });
});

test('the account registry shows the account and its owner', async () => {
  await authorPage.goto(`${baseUrl}/accounts`);
  const row = authorPage.locator('#accounts tbody tr', { hasText: 'shop' });
  assert.match(await row.innerText(), /@shop@social\.example/);
  assert.match(await row.innerText(), /legal/);
  assert.match(await authorPage.locator('#workload').innerText(), /ada\s+1/);
});

test('draft → in review → approved → scheduled, by two people', async () => {
  await authorPage.goto(`${baseUrl}/posts/new`);
  await authorPage.fill('input[name=title]', 'Winter chain care');
  await authorPage.fill('textarea[name^=text_]', 'How do you keep your bike chain clean in winter? Tell us your tricks');
  await Promise.all([authorPage.waitForURL(/\/posts\/\d+$/), authorPage.click('#save')]);
  const postUrl = authorPage.url();
  assert.equal(await authorPage.locator('#post-state').innerText(), 'draft');
  assert.equal(await authorPage.locator('#checks li[data-check=network_rules]').getAttribute('class'), 'check-pass');

  await clickAndLoad(authorPage, '#submit-post');
  assert.equal(await authorPage.locator('#post-state').innerText(), 'in_review');
  // The author sees no way to approve... and the server refuses it anyway.
  const own = await authorPage.evaluate(async (url) => {
    const csrf = document.querySelector('meta[name=csrf-token]').content;
    const response = await fetch(`${url}/action`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf },
      body: 'action=approve',
    });
    return { status: response.status, text: await response.text() };
  }, postUrl);
  assert.equal(own.status, 409);
  assert.match(own.text, /cannot approve/);

  await reviewerPage.goto(postUrl);
  await clickAndLoad(reviewerPage, '#approve-post');
  assert.equal(await reviewerPage.locator('#post-state').innerText(), 'approved');

  await authorPage.goto(postUrl);
  const when = new Date(Date.now() + 3 * 24 * 3600 * 1000);
  const day = when.toISOString().slice(0, 10);
  await authorPage.fill('#schedule-at', `${day}T09:15`);
  await clickAndLoad(authorPage, '#schedule-post');
  assert.equal(await authorPage.locator('#post-state').innerText(), 'scheduled');
  const history = await authorPage.locator('#history tbody').innerText();
  for (const line of [/ada\s+created/, /ada\s+submitted/, /lena\s+approved/, /ada\s+scheduled/]) {
    assert.match(history, line);
  }

  await authorPage.goto(`${baseUrl}/calendar?view=week&date=${day}`);
  assert.match(await authorPage.locator('#calendar').innerText(), /09:15 Winter chain care/);
});

test('a scheduled post is published by the worker at its time, once, and shows its link', async () => {
  await authorPage.goto(`${baseUrl}/posts/new`);
  await authorPage.fill('input[name=title]', 'Spring service week');
  await authorPage.fill('textarea[name^=text_]', 'Spring service week: what should we check first on your bike? https://shop.example/service');
  await Promise.all([authorPage.waitForURL(/\/posts\/\d+$/), authorPage.click('#save')]);
  const postUrl = authorPage.url();
  const postId = postUrl.split('/').pop();
  assert.match(await authorPage.locator('[data-check=tracking]').innerText(), /become Earshot short links/);
  await clickAndLoad(authorPage, '#submit-post');
  await reviewerPage.goto(postUrl);
  // A manager puts the post in a campaign: its link will carry the campaign's UTM.
  await reviewerPage.selectOption('#campaign-choice', { label: 'Spring Service' });
  await clickAndLoad(reviewerPage, '#set-campaign');
  assert.equal(await reviewerPage.locator('#post-campaign-link').innerText(), 'Spring Service');
  await clickAndLoad(reviewerPage, '#approve-post');

  // The form schedules to the minute; a few seconds ahead goes through the same session's API.
  await authorPage.goto(postUrl);
  const scheduled = await authorPage.evaluate(async (id) => {
    const csrf = document.querySelector('meta[name=csrf-token]').content;
    const response = await fetch(`/api/posts/${id}/transition`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ action: 'schedule', at: new Date(Date.now() + 4000).toISOString() }),
    });
    return { status: response.status, text: await response.text() };
  }, postId);
  assert.equal(scheduled.status, 200, scheduled.text);

  let state = '';
  for (let i = 0; i < 60 && state !== 'published'; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await authorPage.goto(postUrl);
    state = await authorPage.locator('#post-state').innerText();
  }
  assert.equal(state, 'published');
  const page = await authorPage.locator('main').innerText();
  assert.match(page, /\/@shop\/12000\d/);
  const ours = statuses.filter((s) => (s.params.status || '').startsWith('Spring service week'));
  assert.equal(ours.length, 1, 'published exactly once');
  assert.equal(ours[0].authorization, 'Bearer secret-access-token');
  assert.match(ours[0].key, /^pub:/);

  // The network got a short link in place of the shop's; it redirects with the UTM tags.
  const sent = ours[0].params.status;
  assert.ok(!sent.includes('shop.example'), sent);
  const short = sent.match(/http:\/\/127\.0\.0\.1:\d+\/l\/[0-9A-Za-z]{8}/);
  assert.ok(short, sent);
  assert.ok(short[0].startsWith(baseUrl), `${short[0]} is served here`);
  assert.match(await authorPage.locator('#post-links').innerText(), /utm_campaign=spring-service/);
  const redirect = await fetch(short[0], { redirect: 'manual', headers: { 'User-Agent': 'Mozilla/5.0' } });
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get('location'),
    'https://shop.example/service?utm_source=mastodon&utm_medium=social&utm_campaign=spring-service&utm_content=shop');
});
