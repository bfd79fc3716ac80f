// Issue 10, "keep it proved": the real coordinator process under a low
// descriptor limit and a small heap, attacked the ways the issue lists (at a
// bounded size); a normal request is answered within 2 s during and after
// each attack, and the process stays alive.
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempSocketDir } from '../support/sockets.js';
import { startChild, type Child } from '../support/processes.js';
import { ackText, frame, goRequest, header, rawPeer, rawSend, type RawPeer } from '../support/raw-acomm.js';
import { get, hookServer, post, type HookServer } from '../support/http.js';
import { delay } from '../support/runtime.js';

describe('hardening: the coordinator process under ulimit -n 256 and a 128 MB heap', function () {
  this.timeout(120_000);
  let sockets: ReturnType<typeof tempSocketDir>;
  let coordinator: Child;
  let hooks: HookServer;
  let port = 0;
  const peers: RawPeer[] = [];
  const held: net.Socket[] = [];

  const coordSock = () => path.join(sockets.dir, 'coordinator', 'res.sock');
  const hookPath = () => path.join(sockets.dir, 'response', 'client.sock');

  /** A normal unix request is answered within 2 s. */
  async function answersQuickly(label: string): Promise<void> {
    const started = Date.now();
    const ack = await rawSend(coordSock(), goRequest(`normal-${label}-${started}`, 'Good', hookPath()));
    const elapsed = Date.now() - started;
    assert.equal(JSON.parse(ack).error, '', `${label}: ${ack}`);
    assert.ok(elapsed < 2000, `${label}: a normal request took ${elapsed} ms`);
    assert.equal(coordinator.proc.exitCode, null, `${label}: the coordinator exited`);
  }

  function hold(socket: net.Socket): net.Socket {
    socket.on('error', () => undefined);
    held.push(socket);
    return socket;
  }

  before(async () => {
    sockets = tempSocketDir();
    hooks = await hookServer();
    peers.push(await rawPeer(path.join(sockets.dir, 'Good', '50-p.sock'), (b) => ackText(JSON.parse(b).id)));
    peers.push(await rawPeer(path.join(sockets.dir, 'Refuse', '50-p.sock'), (b) => ackText(JSON.parse(b).id, 'busy')));
    peers.push(await rawPeer(hookPath()));
    const config = path.join(sockets.dir, 'coordinator.config.json');
    writeFileSync(config, JSON.stringify({
      serviceName: 'res', socketDir: sockets.dir, externalPort: 0, dataDir: path.join(sockets.dir, 'data'), logLevel: 'error',
      plugins: ['unix-transport', 'http-server', 'http-ingress', 'stream-proxy', 'operations'],
    }));
    coordinator = startChild('bash', ['-c', `ulimit -n 256 && exec "${process.execPath}" --max-old-space-size=128 bin/coordinator.js start --config "${config}" --log_level info`]);
    await coordinator.waitFor(/coordinator ready/, 30_000);
    port = Number(/"port":(\d+),"msg":"HTTP server listening"/.exec(coordinator.output())![1]);
  });
  afterEach(async () => {
    for (const s of held.splice(0)) s.destroy();
    await delay(200);
  });
  after(async () => {
    await coordinator?.stop('SIGKILL');
    for (const p of peers.splice(0)) await p.close();
    await hooks.close();
    sockets.cleanup();
  });

  const base = () => `http://127.0.0.1:${port}`;
  const hook = () => JSON.stringify(hooks.url('/r'));

  it('1. distinct and huge task names, then scrapes', async () => {
    const long = 'T'.repeat(200_000);
    await Promise.all(Array.from({ length: 20 }, (_, i) => post(`${base()}/`, `{"id":"big${i}","task":"${long}${i}","responseHook":${hook()}}`)));
    for (let i = 0; i < 300; i += 1) await post(`${base()}/`, `{"id":"n${i}","task":"junk${i}","responseHook":${hook()}}`);
    await answersQuickly('labels');
    const scrape = await get(`${base()}/metrics`);
    assert.ok(scrape.body.length < 50_000, `metrics are ${scrape.body.length} bytes`);
    await answersQuickly('after labels');
  });

  it('2. refused requests with http stream URLs never exhaust descriptors', async () => {
    const stream = JSON.stringify(hooks.url('/data'));
    for (let round = 0; round < 10; round += 1) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => post(`${base()}/`, `{"id":"s${round}-${i}","task":"Refuse","responseHook":${hook()},"streamURL":${stream}}`)));
    }
    await answersQuickly('after 400 stream URLs');
  });

  it('3. pending bodies and frames: memory stays bounded, the process lives', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    for (let i = 0; i < 60; i += 1) {
      const s = hold(net.connect(port, '127.0.0.1'));
      s.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n`);
      s.write(chunk);
      s.write(chunk);
    }
    for (let i = 0; i < 30; i += 1) {
      const s = hold(net.connect(coordSock()));
      s.write(header(4_000_000));
      s.write(chunk);
    }
    await delay(500);
    await answersQuickly('during pending bodies');
    for (const s of held.splice(0)) s.destroy();
    await delay(300);
    await answersQuickly('after pending bodies');
  });

  it('4. slowloris on HTTP and clients that never read their ack', async () => {
    for (let i = 0; i < 400; i += 1) {
      const s = hold(net.connect(port, '127.0.0.1'));
      s.write('POST / HTTP/1.1\r\nHost: x\r\n');
    }
    for (let i = 0; i < 60; i += 1) {
      const s = hold(net.connect({ path: coordSock(), allowHalfOpen: true }));
      s.pause();
      s.write(frame(goRequest(`noread${i}`, 'Good', hookPath())));
    }
    await delay(500);
    await answersQuickly('during slowloris');
    for (const s of held.splice(0)) s.destroy();
    await delay(300);
    await answersQuickly('after slowloris');
    const ok = await post(`${base()}/`, `{"id":"final","task":"Good","responseHook":${hook()}}`);
    assert.equal(ok.status, 200, ok.body);
    assert.doesNotMatch(coordinator.output(), /EMFILE|heap out of memory/);
  });
});

describe('hardening: descriptor limits', function () {
  this.timeout(30_000);

  it('a low soft open-files limit is raised to the hard limit (by Node at start), and the connection caps are taken from it', async () => {
    const sockets = tempSocketDir();
    const config = path.join(sockets.dir, 'c.json');
    writeFileSync(config, JSON.stringify({ socketDir: sockets.dir, externalPort: 0, plugins: ['http-server'] }));
    const child = startChild('bash', ['-c', `ulimit -Sn 200 && ulimit -Hn 4000 && exec "${process.execPath}" bin/coordinator.js start --config "${config}"`]);
    try {
      await child.waitFor(/coordinator ready/, 20_000);
      assert.match(child.output(), /"maxConnections":1600,"openFileLimit":4000,[^\n]*"msg":"HTTP server listening"/);
    } finally {
      await child.stop();
      sockets.cleanup();
    }
  });
});
