// The inbox end to end in a real browser, against the real `earshot` binary: a workspace
// whose Mastodon source points at a local server answering like Mastodon's API, mentions
// imported with the CLI (the inbox hook opens a conversation for each), users made with the
// CLI; then sign in, triage with the keyboard, assign, reply (the fake Mastodon must get
// exactly one status, in reply to the mention, with the reply's Idempotency-Key), resolve,
// and watch /inbox/metrics move.
//
// Run: cd tests/browser && npm install && node --test
// EARSHOT_BIN overrides the binary (default: target/debug/earshot), CHROMIUM the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as cli from './support.mjs';

const earshot = (...args) => cli.earshot(workspace, ...args);
const earshotWithInput = (input, ...args) => cli.earshotWithInput(workspace, input, ...args);

const AGENT = 'ada';
const MANAGER = 'max';
const PASSWORD = 'inbox browser test password';

let workspace;
let server;
let baseUrl;
let mastodon;
let mastodonUrl;
const posted = [];
let browser;
let agentPage;
let managerPage;
const dialogs = [];

// A Mastodon server as far as posting goes: `POST /api/v1/statuses` answers a Status
// (https://docs.joinmastodon.org/methods/statuses/#create); every request is recorded.
function startMastodon() {
  return new Promise((resolve) => {
    let next = 110000;
    const httpServer = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => { body += chunk; });
      request.on('end', () => {
        if (request.method === 'POST' && request.url === '/api/v1/statuses') {
          let params = {};
          try {
            params = JSON.parse(body);
          } catch {
            params = Object.fromEntries(new URLSearchParams(body));
          }
          posted.push({ headers: request.headers, params });
          next += 1;
          const base = `http://127.0.0.1:${httpServer.address().port}`;
          response.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
          response.end(JSON.stringify({
            id: String(next),
            uri: `${base}/users/brand/statuses/${next}`,
            url: `${base}/@brand/${next}`,
            created_at: new Date().toISOString(),
            content: `<p>${params.status || ''}</p>`,
            visibility: params.visibility || 'public',
            in_reply_to_id: params.in_reply_to_id || null,
            account: { id: '1', username: 'brand', acct: 'brand', display_name: 'Brand' },
            media_attachments: [],
            mentions: [],
            tags: [],
          }));
          return;
        }
        response.writeHead(404, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ error: 'Record not found' }));
      });
    });
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer));
  });
}

async function signIn(page, name) {
  await page.goto(`${baseUrl}/login`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')), page.click('form.login button')]);
}

before(async () => {
  mastodon = await startMastodon();
  mastodonUrl = `http://127.0.0.1:${mastodon.address().port}`;
  workspace = await mkdtemp(path.join(tmpdir(), 'earshot-inbox-browser-'));
  await earshot('init');
  await earshot('brand', 'add', 'Zeltron', '--query', 'Zeltron');
  await earshot('source', 'add', 'masto', '--kind', 'mastodon', '--url', mastodonUrl,
    '--token', 'write-token', '--hashtag', 'zeltron');
  await appendFile(path.join(workspace, 'earshot.toml'), `
[[team]]
name = "support"
members = ["${AGENT}", "${MANAGER}"]
manager = "${MANAGER}"

[[team]]
name = "sales"
members = ["${MANAGER}"]
`);
  const mentions = path.join(workspace, 'mentions.jsonl');
  const items = [
    ['109876', 'My Zeltron stopped charging after the update', 'Carol', '2026-01-10T09:00:00Z'],
    ['109877', 'Is the Zeltron Z2 available in blue?', 'Dmitri', '2026-01-10T10:00:00Z'],
    ['109878', 'Zeltron &lt;script&gt;alert(1)&lt;/script&gt; support never answers', '<img src=x onerror=alert(1)>', '2026-01-10T11:00:00Z'],
  ].map(([id, text, name, at]) => JSON.stringify({
    source: 'masto', external_id: id, lang: 'en', text, published_at: at,
    url: `${mastodonUrl}/@user${id}/${id}`,
    author: { handle: `user${id}`, name, followers: 300 },
  }));
  await writeFile(mentions, items.join('\n') + '\n');
  await earshot('import', mentions);
  await earshotWithInput(`${PASSWORD}\n`, 'user', 'add', AGENT, '--role', 'agent');
  await earshotWithInput(`${PASSWORD}\n`, 'user', 'add', MANAGER, '--role', 'manager');

  const port = await cli.freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  server = await cli.startServer(workspace, port, ['--no-poll']);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  for (const which of ['agent', 'manager']) {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    if (which === 'agent') agentPage = page; else managerPage = page;
  }
  await signIn(agentPage, AGENT);
  await signIn(managerPage, MANAGER);
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

async function selectedId(page) {
  return page.evaluate(() => {
    const row = document.querySelector('#conversation-rows > tr.selected');
    return row ? row.dataset.id : null;
  });
}

let conversationId;
let metricsBefore;

test('the metrics start with nothing answered', async () => {
  await managerPage.goto(`${baseUrl}/inbox/metrics?days=3660`);
  metricsBefore = {
    rate: (await managerPage.locator('#m-response-rate').textContent()).trim(),
    first: (await managerPage.locator('#m-first-response').textContent()).trim(),
  };
  assert.equal(metricsBefore.rate, '0%');
  assert.equal(metricsBefore.first, '–');
});

test('the inbox lists the imported mentions as conversations, escaped', async () => {
  await agentPage.goto(`${baseUrl}/inbox`);
  assert.equal(await agentPage.locator('#conversation-rows > tr').count(), 3);
  const lines = await agentPage.locator('#conversation-rows .first-line').allTextContents();
  assert.ok(lines.some((l) => l.includes('<script>alert(1)</script>')), lines.join('\n'));
  assert.equal(await agentPage.locator('#conversation-rows script').count(), 0);
  assert.equal(await agentPage.locator('#conversation-rows img').count(), 0);
});

test('j/k move through the list, ? shows the help, a assigns to me', async () => {
  await agentPage.goto(`${baseUrl}/inbox`);
  const ids = await agentPage.locator('#conversation-rows > tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  await agentPage.keyboard.press('j');
  assert.equal(await selectedId(agentPage), ids[0]);
  await agentPage.keyboard.press('j');
  await agentPage.keyboard.press('j');
  assert.equal(await selectedId(agentPage), ids[2]);
  await agentPage.keyboard.press('k');
  assert.equal(await selectedId(agentPage), ids[1]);
  await agentPage.keyboard.press('k');
  assert.equal(await selectedId(agentPage), ids[0]);
  await agentPage.keyboard.press('?');
  assert.equal(await agentPage.locator('#help').isVisible(), true);
  await agentPage.keyboard.press('Escape');
  assert.equal(await agentPage.locator('#help').isVisible(), false);

  // Carol's conversation (the charging one) is the one to answer.
  const carol = agentPage.locator('#conversation-rows > tr', { hasText: 'stopped charging' });
  conversationId = await carol.getAttribute('data-id');
  while ((await selectedId(agentPage)) !== conversationId) {
    await agentPage.keyboard.press('j');
  }
  await agentPage.keyboard.press('a');
  // The live stream brings the row back with the new assignee.
  await agentPage.locator(`#conversation-${conversationId} .assignee`, { hasText: AGENT }).waitFor({ timeout: 15_000 });
  assert.equal(
    (await agentPage.locator(`#conversation-${conversationId} .state`).textContent()).trim(),
    'assigned',
  );
});

test('Enter opens the conversation; a reply goes out once, in reply to the mention', async () => {
  await agentPage.goto(`${baseUrl}/inbox`);
  while ((await selectedId(agentPage)) !== conversationId) {
    await agentPage.keyboard.press('j');
  }
  await Promise.all([agentPage.waitForURL(`${baseUrl}/inbox/${conversationId}`), agentPage.keyboard.press('Enter')]);
  assert.match(await agentPage.locator('#routed-by').textContent(), /\S/);
  await agentPage.keyboard.press('r');
  assert.equal(await agentPage.evaluate(() => document.activeElement.id), 'reply-body');
  await agentPage.keyboard.type('Sorry Carol, a fix is on its way.');
  const key = await agentPage.locator('#reply-form input[name=key]').getAttribute('value');
  await Promise.all([agentPage.waitForURL(`${baseUrl}/inbox/${conversationId}`), agentPage.click('#send-reply')]);
  // The outbox worker posts it and the bridge marks it sent (each polls every second).
  for (let attempt = 0; attempt < 40; attempt += 1) {
    if (await agentPage.locator('#replies .reply-sent').count()) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    await agentPage.reload();
  }
  assert.equal(await agentPage.locator('#replies .reply-sent').count(), 1);
  assert.equal(posted.length, 1, 'exactly one status posted');
  assert.equal(posted[0].params.in_reply_to_id, '109876');
  assert.equal(posted[0].params.status, 'Sorry Carol, a fix is on its way.');
  assert.equal(posted[0].headers['idempotency-key'], key);
  assert.equal(posted[0].headers.authorization, 'Bearer write-token');
});

test('e resolves the conversation', async () => {
  await agentPage.goto(`${baseUrl}/inbox/${conversationId}`);
  await Promise.all([agentPage.waitForLoadState('load'), agentPage.keyboard.press('e')]);
  await agentPage.locator('#state', { hasText: 'resolved' }).waitFor({ timeout: 10_000 });
});

test('the metrics moved: one of three answered, with a first response time', async () => {
  await managerPage.goto(`${baseUrl}/inbox/metrics?days=3660`);
  assert.equal((await managerPage.locator('#m-response-rate').textContent()).trim(), '33%');
  assert.notEqual((await managerPage.locator('#m-first-response').textContent()).trim(), metricsBefore.first);
  assert.deepEqual(dialogs, [], 'no script ran');
  await managerPage.screenshot({ path: '/tmp/earshot-inbox-metrics.png', fullPage: true });
});

// Dmitri's question: corrected and moved by hand, then a rule added in the editor routes a
// newly imported mention.
async function openConversation(page, text) {
  await page.goto(`${baseUrl}/inbox?state=all`);
  const row = page.locator('#conversation-rows > tr', { hasText: text });
  const id = await row.getAttribute('data-id');
  await page.goto(`${baseUrl}/inbox/${id}`);
  return id;
}

test('a label corrected on the conversation page shows as corrected, by whom', async () => {
  const id = await openConversation(agentPage, 'available in blue');
  const root = await agentPage.locator('#thread li.root').getAttribute('data-id');
  await agentPage.locator(`#correct-${root} summary`).click();
  await agentPage.locator(`#correct-${root} form.correct-sentiment select`).selectOption('positive');
  await Promise.all([
    agentPage.waitForURL((url) => url.pathname === `/inbox/${id}`),
    agentPage.locator(`#correct-${root} form.correct-sentiment button`).click(),
  ]);
  const badge = agentPage.locator(`#labels-${root} [data-field=sentiment]`);
  assert.equal(await badge.getAttribute('data-label'), 'positive');
  assert.match(await badge.textContent(), new RegExp(`by ${AGENT}`));
  // Add an intent; the button now offers to remove it.
  await agentPage.locator(`#correct-${root} summary`).click();
  await Promise.all([
    agentPage.waitForURL((url) => url.pathname === `/inbox/${id}`),
    agentPage.locator(`#correct-${root} button[data-intent=purchase_intent]`).click(),
  ]);
  assert.equal(await agentPage.locator(`#labels-${root} [data-field=intent][data-label=purchase_intent]`).count(), 1);
  assert.equal(
    await agentPage.locator(`#correct-${root} button[data-intent=purchase_intent]`).getAttribute('aria-pressed'),
    'true',
  );
  assert.match(await agentPage.locator('#events').textContent(), /label corrected/);
});

test('a conversation moves to another team from its page', async () => {
  const id = await openConversation(managerPage, 'available in blue');
  // The default rules may have sent the question to either team: move it to the other.
  const from = (await managerPage.locator('#team').textContent()).trim();
  const to = from === 'sales' ? 'support' : 'sales';
  await managerPage.locator('#team-form select').selectOption(to);
  await Promise.all([
    managerPage.waitForURL(`${baseUrl}/inbox/${id}`),
    managerPage.locator('#team-form button').click(),
  ]);
  assert.equal((await managerPage.locator('#team').textContent()).trim(), to);
  assert.match(await managerPage.locator('#events').textContent(), new RegExp(`moved to team\\s+\\S.*→ ${to}`));
  await managerPage.goto(`${baseUrl}/inbox?team=${to}`);
  assert.equal(await managerPage.locator(`#conversation-${id}`).count(), 1);
});

test('a rule added in the editor routes the next imported mention to its team', async () => {
  await managerPage.goto(`${baseUrl}/inbox/rules`);
  await Promise.all([managerPage.waitForURL(`${baseUrl}/inbox/rules/new`), managerPage.click('#add-rule')]);
  await managerPage.fill('#rule-name', 'recalls <b>first</b>');
  await managerPage.fill('#rule-keywords', 'recall* AND (Zeltron');
  await managerPage.locator('#rule-team').selectOption('sales');
  await managerPage.check('#rule-first');
  await managerPage.click('#save-rule');
  // The query does not parse: the form says where, and keeps what was typed.
  assert.match(await managerPage.locator('#rule-problems').textContent(), /column/);
  assert.equal(await managerPage.inputValue('#rule-name'), 'recalls <b>first</b>');
  await managerPage.fill('#rule-keywords', 'recall*');
  await Promise.all([
    managerPage.waitForURL((url) => url.pathname === '/inbox/rules'),
    managerPage.click('#save-rule'),
  ]);
  assert.equal((await managerPage.locator('#rule-1 .rule-name').textContent()).trim(), 'recalls <b>first</b>');
  assert.equal(await managerPage.locator('#rules b').count(), 0, 'the name is text, not markup');

  const more = path.join(workspace, 'more.jsonl');
  await writeFile(more, JSON.stringify({
    source: 'masto', external_id: '109900', lang: 'en',
    text: 'Zeltron announced a recall of Z2 batteries, what now?',
    published_at: '2026-01-11T09:00:00Z',
    url: `${mastodonUrl}/@erin/109900`,
    author: { handle: 'erin', name: 'Erin', followers: 50 },
  }) + '\n');
  await earshot('import', more);
  await managerPage.goto(`${baseUrl}/inbox?team=sales`);
  const row = managerPage.locator('#conversation-rows > tr', { hasText: 'recall of Z2' });
  await row.waitFor({ timeout: 15_000 });
  await Promise.all([managerPage.waitForURL(/\/inbox\/\d+$/), row.locator('a').first().click()]);
  assert.equal((await managerPage.locator('#routed-by').textContent()).trim(), 'recalls <b>first</b>');
  assert.equal((await managerPage.locator('#team').textContent()).trim(), 'sales');
  assert.deepEqual(dialogs, [], 'no script ran');
});
