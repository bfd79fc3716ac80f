// A streaming coordinator with fake peers, in one command:
//   npm run example:streaming
// It starts the coordinator (control channels, key auth, event callbacks,
// commands API), a fake application (verifies keys, prints the callbacks it
// receives), one fake HLS encoder and one fake RTMP ingest server, then plays
// a stream's life: publish, renditions available, broadcaster leaves.
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createCoordinator, type EventCallbacksService, type HttpServerService } from '../../index.js';

const SECRET = 'example-control-secret';
const log = (who: string, text: string) => console.log(`${who.padEnd(12)} ${text}`);

// --- the application: key verification and event callbacks ---------------
const app = http.createServer((req, res) => {
  if (req.url === '/verify') {
    const ok = req.headers['x-streaming-key'] === 'secret-key';
    log('app', `verify channel=${req.headers['x-streaming-channel']} -> ${ok ? 200 : 403}`);
    res.writeHead(ok ? 200 : 403, ok ? { 'x-resolutions': '1280x720-30, 640x360-30', 'x-record': 'true' } : {}).end();
    return;
  }
  log('app', `event ${req.headers['x-event-type']} channel=${req.headers['x-streaming-channel']} seq=${req.headers['x-event-sequence']}${req.headers['x-resolution'] ? ` resolution=${req.headers['x-resolution']}` : ''}`);
  res.writeHead(200).end();
});
await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', () => resolve()));
const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;

// --- the coordinator --------------------------------------------------------
const dataDir = mkdtempSync(path.join(tmpdir(), 'streaming-example-'));
const runtime = createCoordinator(
  { logLevel: 'warn', dataDir, externalPort: 0, plugins: ['http-server', 'key-auth', 'event-callbacks', 'streaming-control'] },
  { env: { CONTROL_SECRET: SECRET, KEY_VERIFICATION_URL: `${appUrl}/verify`, EVENT_CALLBACK_URL: `${appUrl}/events`, COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'cmd-token' } },
);
await runtime.start();
const base = runtime.service('http.server').baseUrl();
log('coordinator', `listening on ${base}`);

// --- fake peers (they speak the text protocol by hand) -----------------------
function token(sub: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub })}`;
  return `${unsigned}.${createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
}

function connect(role: string, name: string): Promise<{ send(text: string): void; next(type: string): Promise<Record<string, string>> }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/control/${role}`, { headers: { 'x-control-auth-token': token(`${role}-control`) } });
  const inbox: Array<{ type: string; args: Record<string, string> }> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    const [type = '', ...lines] = data.toString().split('\n');
    if (type === 'HEARTBEAT') return;
    const args = Object.fromEntries(lines.filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
    log(name, `<- ${type} ${JSON.stringify(args)}`);
    inbox.push({ type, args });
    waiters.splice(0).forEach((w) => w());
  });
  return new Promise((resolve) => ws.once('open', () => resolve({
    send: (text) => { log(name, `-> ${text.split('\n')[0]}`); ws.send(text); },
    next: async (type) => {
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0]!.args;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  })));
}

const encoder = await connect('hls', 'encoder');
encoder.send('REGISTER\nCapacity:4\n');
const ingest = await connect('rtmp', 'rtmp-server');

ingest.send('PUBLISH-REQUEST\nRequest-ID:1\nStream-Channel:demo\nStream-Key:wrong-key\nUser-IP:203.0.113.9\n');
await ingest.next('PUBLISH-DENY');
ingest.send('PUBLISH-REQUEST\nRequest-ID:2\nStream-Channel:demo\nStream-Key:secret-key\nUser-IP:203.0.113.9\n');
const start = await encoder.next('ENCODE-START');
const accept = await ingest.next('PUBLISH-ACCEPT');
const streamId = accept['Stream-ID']!;
for (const resolution of ['1280x720-30', '640x360-30']) {
  encoder.send(`STREAM-AVAILABLE\nStream-Channel:demo\nStream-ID:${streamId}\nStream-Type:HLS-LIVE\nResolution:${resolution}\nIndex-file:hls/demo/${streamId}/${resolution}/live.m3u8\n`);
}
const capacity = await (await fetch(`${base}/commands/capacity`, { headers: { authorization: 'Bearer cmd-token' } })).text();
log('app', `GET /commands/capacity -> ${capacity}`);
ingest.send(`PUBLISH-END\nStream-Channel:demo\nStream-ID:${streamId}\n`);
await encoder.next('ENCODE-STOP');
encoder.send(`STREAM-CLOSED\nStream-Channel:demo\nStream-ID:${streamId}\n`);
await runtime.service('event-callbacks').idle(5000);
log('coordinator', `source handed to the encoder: ${start['Stream-Source-URI']!.replace(/\/[^/]*$/, '/<key>')}`);

await runtime.stop();
app.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
