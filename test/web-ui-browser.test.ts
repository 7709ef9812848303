/**
 * The Temporal Web UI in a real browser (Debian's Chromium, headless, driven by playwright-core): a
 * sign-in link opens a run's page at the API's /ui, and the run's input shows decoded — while the same
 * page of the dev server's own UI port shows no clear text, only what Temporal stores.
 */
import test from 'ava';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM } from '../lib/system-packages.js';
import { config, http, makeKey, runViaApi, uniqueName, as } from './helpers.js';

let browser: Browser | undefined;

test.before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'],
  });
});

test.after.always(async () => {
  await browser?.close();
});

test('signed in through a link, the Web UI at /ui shows a run with its input decoded; the UI on its own port shows ciphertext', async (t) => {
  const marker = `browser-marker-${Date.now().toString(36)}`;
  const { id, execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: marker } });
  t.is(execution.status, 'succeeded');
  const runPage = `/ui/namespaces/default/workflows/${encodeURIComponent(id)}`;

  const op = await makeKey({ name: uniqueName('browser'), role: 'operator' });
  const link = await http<{ url: string }>('POST', '/api/v1/ui/login-links', { next: runPage }, as(op.key));
  t.is(link.status, 201);

  const context = await browser!.newContext();
  try {
    const page = await context.newPage();
    const decodeCalls: number[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith('/api/v1/codec/decode')) decodeCalls.push(r.status());
    });
    await page.goto(link.body.url);
    t.true(page.url().endsWith(runPage), page.url());
    // The run's input (the action's parameters), decoded by the UI through our codec with the session cookie.
    await page.getByText(marker).first().waitFor({ timeout: 90_000 });
    t.true(decodeCalls.length > 0 && decodeCalls.every((s) => s === 200), `codec calls: ${decodeCalls.join(', ')}`);
    const cookies = await context.cookies();
    t.true(
      cookies.some((c) => c.name === 'stackwire_session' && c.httpOnly && c.sameSite === 'Strict'),
      'the session cookie is HttpOnly and SameSite=Strict',
    );

    // The same run in the dev server's own UI (no session, no codec): the page loads, the input stays ciphertext.
    const direct = await context.newPage();
    await direct.goto(`${config.api.webUiUrl}${runPage}`);
    await direct.getByText(id).first().waitFor({ timeout: 90_000 });
    await direct.waitForLoadState('networkidle');
    t.false((await direct.content()).includes(marker), 'without the codec the UI cannot show the input');
  } finally {
    await context.close();
  }
});
