// The dashboard in a real headless browser (Debian's chromium, driven by
// playwright-core): it opens, signs in, and shows an encoder that connects
// afterwards without a reload. UPDATE_SCREENSHOT=1 refreshes docs/dashboard.png.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { eventCallbacks, httpServer, keyAuth, operations, streamingControl, unixTransport, type HttpServerService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime } from '../support/runtime.js';
import { ControlPeer, mintToken } from '../support/control-peer.js';
import { tempSocketDir } from '../support/sockets.js';
import { ROOT } from '../support/processes.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('dashboard in a headless browser', function () {
  this.timeout(60_000);
  let runtime: Coordinator;
  let browser: Browser;
  let dataDir: string;
  let sockets: ReturnType<typeof tempSocketDir>;
  const peers: ControlPeer[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`);
    dataDir = mkdtempSync(path.join(tmpdir(), 'coord-dash-'));
    sockets = tempSocketDir();
    runtime = makeRuntime({ dataDir, socketDir: sockets.dir }, [unixTransport(), httpServer({ port: 0 }), keyAuth(), eventCallbacks(), streamingControl(), operations({ dashboardIntervalMs: 200 })],
      { CONTROL_SECRET: 's', COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'dash-token' });
    await runtime.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    for (const p of peers) p.terminate();
    await browser?.close();
    await runtime?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    sockets.cleanup();
  });

  it('asks for a credential, then shows an encoder that connects later, without reload', async () => {
    const base = runtime.service('http.server').baseUrl();
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const first = await page.goto(`${base}/dashboard`);
    assert.equal(first?.status(), 401);
    await page.fill('input[name=authorization]', 'Bearer dash-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('#conn:text("live")');
    assert.equal(await page.textContent('#encoder-count'), '0');
    let navigations = 0;
    page.on('framenavigated', () => { navigations += 1; });

    const encoder = await ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': mintToken('s', { sub: 'hls-control' }) });
    peers.push(encoder);
    encoder.send('REGISTER', { Capacity: 8 });
    const ingest = await ControlPeer.connect(base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken('s', { sub: 'rtmp-control' }), 'x-external-ip': '203.0.113.7' });
    peers.push(ingest);
    ingest.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'live-demo', 'Stream-Key': 'k' });
    await ingest.next('PUBLISH-ACCEPT');

    await page.waitForFunction(() => document.getElementById('encoder-count')?.textContent === '1', undefined, { timeout: 10_000 });
    await page.waitForSelector('#streams td:text("live-demo")', { timeout: 10_000 });
    assert.equal(await page.textContent('#load'), '1 / 8');
    assert.match((await page.textContent('#ingest')) ?? '', /203\.0\.113\.7:1935/);
    assert.equal(navigations, 0, 'updated live, no reload');
    const shot = process.env.UPDATE_SCREENSHOT ? path.join(ROOT, 'docs', 'dashboard.png') : path.join(dataDir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
  });
});
