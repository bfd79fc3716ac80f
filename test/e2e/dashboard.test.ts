// The operator's console in a real headless browser (Debian's chromium, driven
// by playwright-core), with a real unix provider, a fake encoder and ingest
// server on real WebSockets: sign-in, charts that move without reload, a
// failed request in recent errors, closing a stream (confirmed) that sends
// STREAM-KILL, draining an encoder, CSRF refusal, and the page at phone width.
// UPDATE_SCREENSHOT=1 refreshes docs/console-desktop.png and docs/console-phone.png.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createProvider, eventCallbacks, httpServer, keyAuth, operations, streamingControl, unixTransport, type RunningProvider } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { delay, makeRuntime } from '../support/runtime.js';
import { ControlPeer, mintToken } from '../support/control-peer.js';
import { tempSocketDir } from '../support/sockets.js';
import { hookServer, type HookServer } from '../support/http.js';
import { ROOT } from '../support/processes.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Points in the requests chart and the largest ok rate it holds. */
function requestsChart(page: Page): Promise<{ points: number; maxOk: number }> {
  return page.evaluate(() => {
    const plot = (window as unknown as { coordinatorConsole: { plots: Map<string, { data: number[][] }> } }).coordinatorConsole.plots.get('chart-requests')!;
    return { points: plot.data[0]!.length, maxOk: Math.max(0, ...plot.data[1]!.map((v) => v ?? 0)) };
  });
}

describe('operator console in a headless browser', function () {
  this.timeout(90_000);
  let runtime: Coordinator;
  let browser: Browser;
  let dataDir: string;
  let sockets: ReturnType<typeof tempSocketDir>;
  let provider: RunningProvider;
  let app: HookServer;
  let base: string;
  const peers: ControlPeer[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`);
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-console-'));
    sockets = tempSocketDir();
    app = await hookServer(() => ({ body: 'ok' }));
    runtime = makeRuntime({ dataDir, socketDir: sockets.dir }, [unixTransport(), httpServer({ port: 0 }), keyAuth(), eventCallbacks(), streamingControl(), operations({ dashboardIntervalMs: 200, historyIntervalMs: 250 })],
      { CONTROL_SECRET: 's', COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'dash-token', EVENT_CALLBACK_URL: app.url('/events') });
    await runtime.start();
    base = runtime.service('http.server').baseUrl();
    provider = createProvider({ socketDir: sockets.dir, name: 'greeter', tasks: { Hello: (args: { name: string }) => `hello ${args.name}` } });
    await provider.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    for (const p of peers) p.terminate();
    await browser?.close();
    await provider?.stop(100);
    await runtime?.stop();
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
    sockets.cleanup();
  });

  it('answers flowing, failing, slow and where; acts on streams and encoders with confirmation; refuses actions without the CSRF token', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const first = await page.goto(`${base}/dashboard`);
    assert.equal(first?.status(), 401);
    await page.fill('input[name=authorization]', 'Bearer dash-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('#conn:text("live")');
    await page.waitForFunction(() => (window as unknown as { coordinatorConsole: { plots: Map<string, unknown> } }).coordinatorConsole.plots.size === 6);
    let navigations = 0;
    page.on('framenavigated', () => { navigations += 1; });
    const before = await requestsChart(page);

    // Traffic: successful requests through the unix provider, and one that fails.
    for (let i = 0; i < 30; i += 1) {
      const response = await runtime.inject({ task: 'Hello', args: { name: `n${i}` } });
      assert.equal(response.error, '');
    }
    const failed = await runtime.inject({ id: 'req-fail-1', task: 'NoSuchTask', args: {} });
    assert.equal(failed.errorCode, 'ERR_NO_PROVIDER');

    // The charts move (more points, a non-zero ok rate), without reload.
    await page.waitForFunction((n) => {
      const plot = (window as unknown as { coordinatorConsole: { plots: Map<string, { data: number[][] }> } }).coordinatorConsole.plots.get('chart-requests')!;
      return plot.data[0]!.length > n + 2 && plot.data[1]!.some((v) => v > 0);
    }, before.points, { timeout: 10_000 });
    const after = await requestsChart(page);
    assert.ok(after.points > before.points, 'new points arrived');
    assert.ok(after.maxOk > 0, 'the ok rate shows the traffic');

    // The failed request is in recent errors, and the filter finds it.
    await page.waitForSelector('#errors td:has-text("req-fail-1")', { timeout: 10_000 });
    assert.match((await page.textContent('#errors')) ?? '', /ERR_NO_PROVIDER[\s\S]*NoSuchTask/);
    await page.fill('#error-filter', 'nothing-matches-this');
    assert.equal(await page.locator('#errors td:has-text("req-fail-1")').count(), 0);
    await page.fill('#error-filter', 'nosuch');
    await page.waitForSelector('#errors td:has-text("req-fail-1")');
    // The provider's socket, with its last success.
    await page.waitForSelector('#providers td:text("Hello")');
    assert.match((await page.textContent('#providers')) ?? '', /greeter\.sock[\s\S]*\d+ s ago/);

    // Streaming: an encoder and an ingest server connect, a publish is accepted, a sub-stream is announced.
    const encoder = await ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': mintToken('s', { sub: 'hls-control' }) });
    peers.push(encoder);
    encoder.send('REGISTER', { Capacity: 8 });
    const ingest = await ControlPeer.connect(base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken('s', { sub: 'rtmp-control' }), 'x-external-ip': '203.0.113.7' });
    peers.push(ingest);
    ingest.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'live-demo', 'Stream-Key': 'k' });
    const accept = await ingest.next('PUBLISH-ACCEPT');
    const streamId = accept.args['stream-id']!;
    const start = await encoder.next('ENCODE-START');
    encoder.send('STREAM-AVAILABLE', { 'Stream-Channel': 'live-demo', 'Stream-ID': streamId, 'Stream-Type': 'HLS-LIVE', Resolution: '1280x720-30', 'Index-file': `hls/live-demo/${streamId}/live.m3u8` });
    assert.equal(start.args['stream-channel'], 'live-demo');

    await page.waitForFunction(() => document.getElementById('encoder-count')?.textContent === '1', undefined, { timeout: 10_000 });
    await page.waitForSelector('#streams td:text("HLS-LIVE 1280x720-30")', { timeout: 10_000 });
    await page.waitForSelector('#streams td:has-text("1 delivered")', { timeout: 10_000 });
    assert.equal(await page.textContent('#load'), '1 / 8');
    assert.match((await page.textContent('#ingest')) ?? '', /203\.0\.113\.7:1935/);

    // Close needs confirmation: cancelled, nothing is sent.
    const killsBefore = () => ingest.received.filter((m) => m.type === 'STREAM-KILL').length;
    await page.click('#streams button[data-action="close-stream"]');
    await page.waitForSelector('#confirm[open]');
    assert.match((await page.textContent('#confirm-text')) ?? '', /live-demo/);
    await page.click('#confirm-no');
    await delay(400);
    assert.equal(killsBefore(), 0, 'a cancelled close sends nothing');
    // Confirmed: STREAM-KILL reaches the ingest server with the stream id.
    await page.click('#streams button[data-action="close-stream"]');
    await page.click('#confirm-yes');
    const kill = await ingest.next('STREAM-KILL');
    assert.equal(kill.args['stream-channel'], 'live-demo');
    assert.equal(kill.args['stream-id'], streamId);
    await page.waitForSelector('#toast:has-text("STREAM-KILL sent")');

    // Drain the encoder from its row.
    await page.click('#encoders button[data-action="drain-encoder"]');
    await page.click('#confirm-yes');
    await page.waitForSelector('#encoders td:has-text("draining")', { timeout: 10_000 });
    assert.deepEqual(runtime.service('streaming.control').details().encoders.map((e) => e.draining), [true]);

    // Both actions are in the audit log, with who did them.
    await page.waitForSelector('#audit td:text("close-stream")', { timeout: 10_000 });
    await page.waitForSelector('#audit td:text("drain-encoder")', { timeout: 10_000 });
    assert.match((await page.textContent('#audit')) ?? '', /bearer credential holder[\s\S]*drain-encoder/);

    // Without the CSRF token (even with the session cookie) an action is refused and audited as refused.
    const refused = await page.evaluate(async () => {
      const res = await fetch('/dashboard/actions/drain-encoder', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":1,"draining":false}' });
      return { status: res.status, body: await res.json() as { code: string } };
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'ERR_CSRF');
    assert.equal(runtime.service('streaming.control').details().encoders[0]!.draining, true, 'nothing changed');
    assert.equal(navigations, 0, 'everything updated live, no reload');

    const shots = process.env.UPDATE_SCREENSHOT ? path.join(ROOT, 'docs') : dataDir;
    // A second stream so the screenshot shows one live.
    ingest.send('PUBLISH-REQUEST', { 'Request-ID': '2', 'Stream-Channel': 'studio-b', 'Stream-Key': 'k2' });
    const streaming = runtime.service('streaming.control');
    streaming.drainEncoder(streaming.details().encoders[0]!.id, false);
    await page.waitForTimeout(1200);
    await page.screenshot({ path: path.join(shots, 'console-desktop.png'), fullPage: true });

    // Phone width, dark theme: nothing wider than the screen but the scrolling tables.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${base}/dashboard`);
    await phone.waitForSelector('#conn:text("live")');
    await phone.waitForFunction(() => (window as unknown as { coordinatorConsole: { plots: Map<string, unknown> } }).coordinatorConsole.plots.size === 6);
    assert.equal(await phone.evaluate(() => document.documentElement.dataset.theme), 'dark');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page fits a phone screen (overflow ${overflow}px)`);
    await phone.waitForTimeout(600);
    await phone.screenshot({ path: path.join(shots, 'console-phone.png'), fullPage: true });
    assert.ok(existsSync(path.join(shots, 'console-desktop.png')) && existsSync(path.join(shots, 'console-phone.png')));
  });
});
