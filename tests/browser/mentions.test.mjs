// The mentions pages in a real browser, against the real `earshot` binary and a real
// workspace: import with the CLI, serve, then read, search, filter, watch live updates,
// switch to Russian and open a mention, all in Debian's chromium.
//
// Run: cd tests/browser && npm install && node --test
// EARSHOT_BIN overrides the binary (default: target/debug/earshot), CHROMIUM the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as cli from './support.mjs';

const earshot = (...args) => cli.earshot(workspace, ...args);
const earshotWithInput = (input, ...args) => cli.earshotWithInput(workspace, input, ...args);

const XSS_SCRIPT = '<script>alert(1)</script>';
const XSS_IMG = '"><img src=x onerror=alert(1)>';

let workspace;
let server;
let baseUrl;
let browser;
let page;
const dialogs = [];

const USER = 'tester';
const PASSWORD = 'browser test password 1';

function jsonLines(items) {
  return items.map((item) => JSON.stringify(item)).join('\n') + '\n';
}

before(async () => {
  workspace = await mkdtemp(path.join(tmpdir(), 'earshot-browser-'));
  await earshot('init');
  await earshot('brand', 'add', 'Zeltron', '--query', 'Zeltron OR Зелтрон OR Ζέλτρον');
  const first = path.join(workspace, 'first.jsonl');
  await writeFile(first, jsonLines([
    {
      source: 'blog', external_id: 'en-1', lang: 'en',
      text: 'Zeltron ships the new Z2 headphones today',
      title: 'Zeltron Z2 review',
      published_at: '2026-01-10T09:00:00Z', url: 'https://blog.example/z2',
      author: { handle: '@ann', name: 'Ann Lee', url: 'https://social.example/@ann', followers: 120 },
    },
    {
      source: 'blog', external_id: 'ru-1', lang: 'ru',
      text: 'Зелтрон снова поднял цены на подписку',
      published_at: '2026-01-11T09:00:00Z', url: 'https://blog.example/ru-1',
      author: { handle: '@ivan', name: 'Иван Петров' },
    },
    {
      source: 'forum', external_id: 'el-1', lang: 'el',
      text: 'Το Ζέλτρον είναι πολύ καλό τηλέφωνο',
      published_at: '2026-01-12T09:00:00Z', url: 'https://forum.example/el-1',
      author: { handle: '@eleni', name: 'Ελένη' },
    },
    {
      // The text arrives escaped (as in a feed) and is decoded to the literal payload;
      // the author fields carry it raw.
      source: 'forum', external_id: 'xss-1', lang: 'en',
      text: 'Zeltron fan writes &lt;script&gt;alert(1)&lt;/script&gt; and &quot;&gt;&lt;img src=x onerror=alert(1)&gt;',
      published_at: '2026-01-13T09:00:00Z', url: 'javascript:alert(1)',
      author: { handle: XSS_SCRIPT, name: XSS_IMG, url: 'javascript:alert(1)' },
    },
  ]));
  await earshot('import', first);
  await earshotWithInput(`${PASSWORD}\n`, 'user', 'add', USER, '--role', 'viewer');

  const port = await cli.freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  server = await cli.startServer(workspace, port);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
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

async function mentionTexts() {
  return page.locator('#mentions .mention .text').allTextContents();
}

test('a wrong password shows an error and no session', async () => {
  await page.goto(`${baseUrl}/mentions`);
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.fill('input[name=name]', USER);
  await page.fill('input[name=password]', 'not the password');
  await Promise.all([page.waitForLoadState(), page.click('form.login button')]);
  assert.match(await page.locator('#login-error').textContent(), /Wrong user name or password/);
  await page.goto(`${baseUrl}/sources`);
  assert.equal(new URL(page.url()).pathname, '/login', 'still signed out');
});

test('signing in leads back to the page asked for', async () => {
  await page.goto(`${baseUrl}/mentions`);
  assert.equal(new URL(page.url()).searchParams.get('next'), '/mentions');
  await page.fill('input[name=name]', USER);
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL(/\/mentions$/), page.click('form.login button')]);
  assert.equal(await page.locator('.whoami .user-name').textContent(), USER);
});

test('the stream shows the imported mentions', async () => {
  await page.goto(`${baseUrl}/`);
  assert.equal(new URL(page.url()).pathname, '/mentions');
  assert.equal(await page.locator('#mentions .mention').count(), 4);
  const texts = await mentionTexts();
  assert.ok(texts.includes('Zeltron ships the new Z2 headphones today'), texts.join('\n'));
  assert.ok(texts.includes('Зелтрон снова поднял цены на подписку'));
  assert.ok(texts.includes('Το Ζέλτρον είναι πολύ καλό τηλέφωνο'));
  const first = page.locator('#mentions .mention').first();
  assert.match(await first.locator('time').textContent(), /^2026-01-13 09:00 UTC$/);
  await page.screenshot({ path: '/tmp/earshot-mentions.png', fullPage: true });
});

test('a search narrows the stream', async () => {
  await page.goto(`${baseUrl}/mentions`);
  await page.fill('input[name=q]', 'headphones');
  await Promise.all([page.waitForURL(/q=headphones/), page.click('.filters .row:first-child button')]);
  assert.deepEqual(await mentionTexts(), ['Zeltron ships the new Z2 headphones today']);
  assert.equal(await page.inputValue('input[name=q]'), 'headphones');
});

test('a bad query shows the error with its column', async () => {
  await page.goto(`${baseUrl}/mentions?q=${encodeURIComponent('Zeltron AND (')}`);
  const error = await page.locator('#error').textContent();
  assert.match(error, /column \d+/);
  assert.equal(await page.locator('#mentions').count(), 0);
});

test('the language filter keeps one language', async () => {
  await page.goto(`${baseUrl}/mentions`);
  await page.selectOption('select[name=language]', 'el');
  await Promise.all([page.waitForURL(/language=el/), page.click('.filters .row:nth-child(2) button')]);
  assert.deepEqual(await mentionTexts(), ['Το Ζέλτρον είναι πολύ καλό τηλέφωνο']);
});

test('hostile text renders as text and runs nothing', async () => {
  await page.goto(`${baseUrl}/mentions`);
  const hostile = page.locator('#mentions .mention', { hasText: 'Zeltron fan writes' });
  assert.equal(await hostile.count(), 1);
  assert.equal(
    await hostile.locator('.text').textContent(),
    `Zeltron fan writes ${XSS_SCRIPT} and ${XSS_IMG}`,
  );
  assert.equal(await hostile.locator('.author').textContent(), XSS_IMG);
  assert.equal(await hostile.locator('.handle').textContent(), XSS_SCRIPT);
  assert.equal(await hostile.locator('.author a').count(), 0, 'a javascript: author URL is no link');
  await hostile.locator('a', { hasText: 'Details' }).click();
  await page.waitForURL(/\/mentions\/\d+$/);
  assert.ok((await page.locator('.inert').allTextContents()).includes('javascript:alert(1)'));
  for (const url of [`${baseUrl}/mentions`, page.url(), `${baseUrl}/mentions?lang=ru`]) {
    await page.goto(url);
    assert.equal(await page.locator('img').count(), 0, `${url}: an <img> was created`);
    assert.equal(await page.locator('[onerror]').count(), 0, `${url}: an onerror attribute exists`);
    assert.equal(await page.locator('a[href^="javascript"]').count(), 0, `${url}: a javascript: link`);
    assert.equal(await page.locator('body script').count(), 0, `${url}: a script in the body`);
  }
  assert.deepEqual(dialogs, [], 'no dialog may open');
});

test('a mention imported while the page is open appears without a reload', async () => {
  await page.goto(`${baseUrl}/mentions?lang=en`);
  await page.locator('#live-status').waitFor();
  const marker = await page.evaluate(() => { window.notReloaded = true; return true; });
  assert.ok(marker);
  const second = path.join(workspace, 'second.jsonl');
  await writeFile(second, jsonLines([
    {
      source: 'blog', external_id: 'live-1', lang: 'en',
      text: 'Zeltron live update arrives &quot;&gt;&lt;img src=x onerror=alert(1)&gt;',
      published_at: '2026-01-20T09:00:00Z', url: 'https://blog.example/live-1',
      author: { handle: '@live', name: XSS_SCRIPT },
    },
  ]));
  await earshot('import', second);
  const fresh = page.locator('#mentions .mention').first();
  await page.locator('#mentions .mention', { hasText: 'Zeltron live update arrives' }).waitFor({ timeout: 20_000 });
  assert.equal(await fresh.locator('.text').textContent(), `Zeltron live update arrives ${XSS_IMG}`);
  assert.equal(await fresh.locator('.author').textContent(), XSS_SCRIPT);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
  assert.equal(await page.locator('#mentions .mention').count(), 5);
  assert.match(await page.locator('#live-count').textContent(), /\+1/);
  assert.equal(await page.locator('img').count(), 0);
  assert.deepEqual(dialogs, []);
});

test('the interface speaks Russian with ?lang=ru and remembers it', async () => {
  await page.goto(`${baseUrl}/mentions?lang=ru`);
  assert.equal(await page.getAttribute('html', 'lang'), 'ru');
  assert.equal(await page.locator('h1').textContent(), 'Упоминания');
  assert.equal(await page.locator('.filters .row:first-child button').textContent(), 'Поиск');
  await page.click('.main-nav a[href="/sources"]');
  await page.waitForURL(/\/sources$/);
  assert.equal(await page.locator('h1').textContent(), 'Источники');
  await page.click('.langs a[hreflang=en]');
  await page.waitForURL(/lang=en/);
  assert.equal(await page.locator('h1').textContent(), 'Sources');
});

test('the detail page shows the whole mention', async () => {
  await page.goto(`${baseUrl}/mentions?q=headphones`);
  await page.locator('.mention a', { hasText: 'Details' }).click();
  await page.waitForURL(/\/mentions\/\d+$/);
  const detail = page.locator('.detail');
  assert.equal(await detail.locator('.title').textContent(), 'Zeltron Z2 review');
  assert.equal(await detail.locator('.text').textContent(), 'Zeltron ships the new Z2 headphones today');
  const body = await detail.textContent();
  for (const expected of ['Ann Lee', '@ann', '120', 'blog', 'en-1', '2026-01-10 09:00 UTC', 'Zeltron']) {
    assert.ok(body.includes(expected), `${expected} missing from the detail page`);
  }
  assert.equal(await detail.locator('a[href="https://social.example/@ann"]').count(), 1);
  assert.ok(await detail.locator('a[href="https://blog.example/z2"]').count() >= 1);
});

test('signing out ends the session', async () => {
  await page.goto(`${baseUrl}/mentions`);
  await Promise.all([page.waitForURL(/\/login$/), page.click('#logout')]);
  await page.goto(`${baseUrl}/mentions`);
  assert.equal(new URL(page.url()).pathname, '/login', 'the session is gone');
});
