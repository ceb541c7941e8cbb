// Publishing end to end in a real browser, against the real `earshot` binary: an account
// registered with the CLI (its token read from stdin and encrypted), an author who drafts a
// post in the editor and submits it, a reviewer of the account's approval step who approves
// it, and the author who schedules it; the post's history and the calendar show each step.
// (Publishing itself is the worker's part; this test stops at `scheduled`.)
//
// Run: cd tests/browser && npm install && node --test
// EARSHOT_BIN overrides the binary (default: target/debug/earshot), CHROMIUM the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
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

before(async () => {
  workspace = await mkdtemp(path.join(tmpdir(), 'earshot-publishing-browser-'));
  await earshot('init');
  await appendFile(path.join(workspace, 'earshot.toml'), `
[[team]]
name = "legal"
members = ["${REVIEWER}"]
`);
  await earshotWithInput(`${PASSWORD}\n`, 'user', 'add', AUTHOR, '--role', 'agent');
  await earshotWithInput(`${PASSWORD}\n`, 'user', 'add', REVIEWER, '--role', 'agent');
  await earshotWithInput('secret-access-token\n', 'account', 'add', 'shop', '--network', 'mastodon',
    '--handle', '@shop@social.example', '--server', 'https://social.example', '--owner', AUTHOR,
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
