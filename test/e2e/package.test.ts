// The package as users get it: `npm pack`, installed into a scratch app
// offline from the local npm cache (so a broken `files` list or a missing
// dependency fails here), light (no native compile, a small node_modules),
// run from ESM and CommonJS, and its types compiled by consumer projects in
// every module mode, without esModuleInterop and with skipLibCheck off.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

const APP = (load: string) => `
${load}
const greeter = definePlugin({
  name: 'greeter',
  apply(api) { api.hooks.onRequest.tap(api.name, (r) => ({ ...r, args: { ...r.args, greeted: true } })); },
});
async function run() {
  const runtime = createCoordinator(defineConfig({ logLevel: 'silent', plugins: [] }));
  runtime.use(greeter).use(inProcessProvider({ tasks: { Hello: (args) => 'hello ' + args.name + (args.greeted ? '!' : '') } }));
  await runtime.start();
  const result = await runtime.call('Hello', { name: 'node' });
  await runtime.stop();
  const kit = createTestRuntime({ plugins: [inProcessProvider({ tasks: { Ping: () => 'pong' } })] });
  await kit.start();
  const pong = (await kit.request({ task: 'Ping' })).result;
  await kit.stop();
  console.log(JSON.stringify({ result, status: runtime.status, pong }));
}
run().catch((err) => { console.error(err); process.exit(1); });
`;

const CONSUMER = `import { createCoordinator, definePlugin, defineTask, inProcessProvider, type PluginApi } from 'coordinator-runtime';
import { createTestRuntime } from 'coordinator-runtime/testing';
import type { HttpServerService } from 'coordinator-runtime/plugins/http-server';

declare module 'coordinator-runtime' {
  interface ServiceTypes { 'consumer.counter': { count(): number } }
}

const counter = definePlugin({ name: 'counter', apply(api: PluginApi) { api.provide('consumer.counter', { count: () => 1 }); } });
const add = defineTask({ type: 'object', properties: { a: { type: 'number' } }, required: ['a'] } as const, (args) => args.a + 1);
const runtime = createCoordinator({ plugins: [counter, inProcessProvider({ tasks: { Add: add } })] });
const kit = createTestRuntime({ plugins: [] });
const server: HttpServerService | undefined = undefined;
void runtime; void kit; void server;
`;

function dirSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) total += dirSize(file);
    else if (entry.isFile()) total += statSync(file).size;
  }
  return total;
}

function nativeAddons(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...nativeAddons(file));
    else if (entry.name.endsWith('.node')) found.push(file);
  }
  return found;
}

describe('package: the packed tarball as an app installs it', function () {
  this.timeout(180_000);
  let work: string;
  let app: string;
  let tarball: string;

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'coord-package-'));
    const name = execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
    tarball = path.join(work, name);
    app = path.join(work, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true }));
    // --engine-strict: a dependency that wants a newer Node than the one installing it is an error, not a warning
    // (CI runs this first on Node 20, the oldest line package.json's engines claims).
    const install = spawnSync('npm', ['install', '--offline', '--engine-strict', '--no-audit', '--no-fund', tarball], { cwd: app, encoding: 'utf8' });
    assert.equal(install.status, 0, `npm install refused the package on Node ${process.version}:\n${install.stderr}`);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('ships what users need and nothing that points nowhere', () => {
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const file of ['package/LICENSE', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/index.d.cts', 'package/dist/testing/index.js', 'package/plugins/unix-transport/README.md', 'package/docs/reference.md', 'package/bin/coordinator.js', 'package/dist/plugins/operations/console/console.js', 'package/dist/plugins/operations/console/console.css', 'package/dist/plugins/event-callbacks/delivery-worker.js']) {
      assert.ok(listing.includes(file), `${file} missing from the tarball`);
    }
    assert.deepEqual(listing.filter((f) => f.endsWith('.map')), [], 'source maps to files not shipped');
    assert.deepEqual(listing.filter((f) => /\/test\/|\.test\./.test(f)), []);
  });

  it('installs light: no native compile, node_modules within 25 MB', () => {
    const modules = path.join(app, 'node_modules');
    assert.deepEqual(nativeAddons(modules), [], 'a native addon was installed');
    assert.equal(existsSync(path.join(modules, 'better-sqlite3')), false);
    const mb = dirSize(modules) / 1024 / 1024;
    assert.ok(mb <= 25, `node_modules is ${mb.toFixed(1)} MB`);
  });

  for (const [kind, file, load] of [
    ['ESM', 'app.mjs', "import { createCoordinator, definePlugin, defineConfig, inProcessProvider } from 'coordinator-runtime';\nimport { createTestRuntime } from 'coordinator-runtime/testing';"],
    ['CommonJS', 'app.cjs', "const { createCoordinator, definePlugin, defineConfig, inProcessProvider } = require('coordinator-runtime');\nconst { createTestRuntime } = require('coordinator-runtime/testing');"],
  ] as const) {
    it(`${kind}: builds a runtime, adds a plugin, dispatches in-process, uses the test kit`, () => {
      writeFileSync(path.join(app, file), APP(load));
      const result = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout.trim()), { result: 'hello node!', status: 'stopped', pong: 'pong' });
      assert.doesNotMatch(result.stderr, /Warning/);
    });
  }

  it('tracing without the OpenTelemetry packages (optional peers): nothing loads them until configured; then a start error that says what to install', () => {
    // (@opentelemetry/api comes with prom-client; the SDK and the exporter are optional peers, not installed.)
    assert.equal(existsSync(path.join(app, 'node_modules', '@opentelemetry', 'sdk-trace-base')), false, 'optional peers are not installed');
    writeFileSync(path.join(app, 'tracing.mjs'), `
import { createCoordinator, tracing } from 'coordinator-runtime';
const runtime = createCoordinator({ logLevel: 'silent', plugins: [] });
runtime.use(tracing({ endpoint: 'http://127.0.0.1:4318/v1/traces' }));
try { await runtime.start(); console.log('started'); } catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })); }
`);
    const result = spawnSync(process.execPath, ['tracing.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    const failure = JSON.parse(result.stdout.trim()) as { code: string; message: string };
    assert.equal(failure.code, 'ERR_CONFIG');
    assert.match(failure.message, /npm install @opentelemetry\/api@~1\.9\.0 @opentelemetry\/sdk-trace-base/);
  });

  it('event callbacks from the installed package: delivered through its delivery thread (the default), whose file ships and loads', () => {
    // An app with the package's dependencies and, for Node 20 (no node:sqlite), the optional better-sqlite3 of this checkout.
    const consumer = path.join(work, 'callbacks');
    mkdirSync(path.join(consumer, 'node_modules'), { recursive: true });
    for (const dep of readdirSync(path.join(app, 'node_modules'))) if (!dep.startsWith('.')) symlinkSync(path.join(app, 'node_modules', dep), path.join(consumer, 'node_modules', dep), 'dir');
    for (const dep of ['better-sqlite3', 'bindings', 'file-uri-to-path']) if (!existsSync(path.join(consumer, 'node_modules', dep))) symlinkSync(path.join(root, 'node_modules', dep), path.join(consumer, 'node_modules', dep), 'dir');
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'callbacks', private: true, type: 'module' }));
    writeFileSync(path.join(consumer, 'app.mjs'), `
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCoordinator, eventCallbacks, makeEvent } from 'coordinator-runtime';
const received = [];
const app = http.createServer((req, res) => { received.push(req.headers['x-event-type']); req.resume(); req.on('end', () => res.end()); });
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
const runtime = createCoordinator({ logLevel: 'silent', dataDir: mkdtempSync(path.join(tmpdir(), 'pkg-callbacks-')), plugins: [eventCallbacks()] }, { env: { EVENT_CALLBACK_URL: \`http://127.0.0.1:\${app.address().port}/events\` } });
await runtime.start();
await runtime.emit(makeEvent('stream.available', { channel: 'c', streamId: 's' }));
const idle = await runtime.service('event-callbacks').idle(10000);
await runtime.stop();
app.close();
console.log(JSON.stringify({ idle, received }));
`);
    // Symlinked dependencies resolve from where they are linked; the thread inherits both flags (the second one is for its entry file).
    const result = spawnSync(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', 'app.mjs'], { cwd: consumer, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim()), { idle: true, received: ['stream-available'] });
  });

  for (const [module, type] of [['nodenext', 'module'], ['nodenext', 'commonjs'], ['node16', 'commonjs'], ['node16', 'module']] as const) {
    it(`TypeScript consumer: module ${module}, package type ${type}, no esModuleInterop, skipLibCheck off`, () => {
      const consumer = path.join(work, `ts-${module}-${type}`);
      mkdirSync(path.join(consumer, 'node_modules', '@types'), { recursive: true });
      symlinkSync(path.join(app, 'node_modules', 'coordinator-runtime'), path.join(consumer, 'node_modules', 'coordinator-runtime'), 'dir');
      for (const dep of readdirSync(path.join(app, 'node_modules'))) {
        if (dep !== 'coordinator-runtime' && !dep.startsWith('.') && !existsSync(path.join(consumer, 'node_modules', dep))) symlinkSync(path.join(app, 'node_modules', dep), path.join(consumer, 'node_modules', dep), 'dir');
      }
      symlinkSync(path.join(root, 'node_modules', '@types', 'node'), path.join(consumer, 'node_modules', '@types', 'node'), 'dir');
      writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type }));
      writeFileSync(path.join(consumer, 'index.ts'), CONSUMER);
      writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module, moduleResolution: module, target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['index.ts'] }));
      const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { encoding: 'utf8' });
      assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    });
  }
});
