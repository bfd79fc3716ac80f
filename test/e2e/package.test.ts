// The built package, as another Node app sees it: ESM import and CommonJS require.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
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
  console.log(JSON.stringify({ result, status: runtime.status }));
}
run().catch((err) => { console.error(err); process.exit(1); });
`;

describe('package: ESM and CommonJS consumers', function () {
  this.timeout(120_000);
  let app: string;

  before(() => {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
    app = mkdtempSync(path.join(tmpdir(), 'coord-consumer-'));
    mkdirSync(path.join(app, 'node_modules'));
    symlinkSync(root, path.join(app, 'node_modules', 'coordinator-runtime'), 'dir');
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  for (const [kind, file, load] of [
    ['ESM', 'app.mjs', "import { createCoordinator, definePlugin, defineConfig, inProcessProvider } from 'coordinator-runtime';"],
    ['CommonJS', 'app.cjs', "const { createCoordinator, definePlugin, defineConfig, inProcessProvider } = require('coordinator-runtime');"],
  ] as const) {
    it(`${kind}: builds a runtime, adds a plugin, dispatches in-process, stops`, () => {
      writeFileSync(path.join(app, file), APP(load));
      const result = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout.trim()), { result: 'hello node!', status: 'stopped' });
      assert.doesNotMatch(result.stderr, /Warning/);
    });
  }

  it('ships type declarations for the public API', () => {
    const dts = execFileSync('cat', [path.join(root, 'dist', 'index.d.ts')], { encoding: 'utf8' });
    for (const name of ['createCoordinator', 'definePlugin', 'defineConfig', 'CoordinatorError']) assert.match(dts, new RegExp(name));
  });
});
