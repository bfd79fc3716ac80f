import { applyCoreEnv } from '../../core/config/env.js';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkConfig, createCoordinator, loadConfig, resolveConfig, CoordinatorError, type CoordinatorConfig } from '../../index.js';
import { main } from '../../bin/cli.js';

function messagesOf(config: CoordinatorConfig): string[] {
  return checkConfig(config).map((p) => `${p.path} | ${p.rule} | ${p.message}`);
}

describe('config', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'coord-config-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports each bad value with its path and rule', () => {
    const cases: Array<[CoordinatorConfig, string]> = [
      [{ externalPort: 70000 }, 'config.externalPort | maximum | must be <= 65535'],
      [{ socketDir: 'relative/dir' }, 'config.socketDir | pattern | must match pattern "^/"'],
      [{ logLevel: 'loud' }, 'config.logLevel | enum | must be one of "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic", "silent"'],
      [{ request_timeout: -1 }, 'config.request_timeout | minimum | must be >= 0'],
      [{ requestTimeoutMs: 'soon' } as unknown as CoordinatorConfig, 'config.requestTimeoutMs | type | must be integer'],
      [{ serviceNmae: 'typo' } as unknown as CoordinatorConfig, 'config.serviceNmae | additionalProperties | is not a known option (did you mean serviceName?)'],
      [{ service_name: 'bad/name' }, 'config.service_name | pattern | must match pattern "^[A-Za-z0-9._-]+$"'],
      [{ plugins: ['no-such-plugin'] }, 'config.plugins[0] | plugin | no built-in plugin named no-such-plugin (known: inproc-provider, unix-transport, http-server, http-ingress, stream-proxy, key-auth, event-callbacks, streaming-control, operations, tracing, cluster; a plugin package must be installed where the config is)'],
    ];
    for (const [config, expected] of cases) assert.deepEqual(messagesOf(config), [expected], JSON.stringify(config));
  });

  it('lists every problem at once, not only the first', () => {
    assert.equal(checkConfig({ externalPort: -1, logLevel: 'x', socketDir: 'y' }).length, 3);
  });

  it('validates plugin options from pluginOptions with the plugin schema', () => {
    const problems = checkConfig({ plugins: ['inproc-provider'], pluginOptions: { 'inproc-provider': { tasks: 5 } } });
    assert.deepEqual(problems.map((p) => `${p.path}: ${p.message}`), ['plugins.inproc-provider.tasks: must be object']);
  });

  it('createCoordinator throws ERR_CONFIG listing the problems', () => {
    assert.throws(() => createCoordinator({ externalPort: 99999 }), (err: unknown) => {
      assert.ok(err instanceof CoordinatorError);
      assert.equal(err.code, 'ERR_CONFIG');
      assert.match(err.message, /config\.externalPort: must be <= 65535/);
      return true;
    });
  });

  it("accepts the original coordinator's JSON keys as they are", () => {
    const resolved = resolveConfig({ service_name: 'coord1', socket_dir: '/tmp/x', external_port: 18080, request_timeout: 3, log_level: 'warning', config_file: 'c.json' });
    assert.equal(resolved.serviceName, 'coord1');
    assert.equal(resolved.socketDir, '/tmp/x');
    assert.equal(resolved.externalPort, 18080);
    assert.equal(resolved.requestTimeoutMs, 3000);
    assert.equal(resolved.logLevel, 'warning');
  });

  it('request_timeout 0 means the default 60 s, as in the original', () => {
    assert.equal(resolveConfig({ request_timeout: 0 }).requestTimeoutMs, 60_000);
    assert.equal(resolveConfig({}).requestTimeoutMs, 60_000);
  });

  it('COORDINATOR_DATA_DIR overrides the data directory where an environment is given; the library has no default', () => {
    assert.equal(resolveConfig(applyCoreEnv({ dataDir: '/var/lib/a' }, { COORDINATOR_DATA_DIR: '/var/lib/b' })).dataDir, '/var/lib/b');
    assert.equal(resolveConfig(applyCoreEnv({ dataDir: '/var/lib/a' }, { COORDINATOR_DATA_DIR: '' })).dataDir, '/var/lib/a');
    assert.equal(resolveConfig({}).dataDir, undefined);
  });

  it('loads coordinator.config.ts (with a local import), .json and .yaml', async () => {
    writeFileSync(path.join(dir, 'port.ts'), 'export const port: number = 18181;\n');
    writeFileSync(path.join(dir, 'coordinator.config.ts'), "import { port } from './port.js';\nexport default { externalPort: port, serviceName: 'from-ts' };\n");
    const ts = await loadConfig(undefined, dir);
    assert.equal(ts.filepath, path.join(dir, 'coordinator.config.ts'));
    assert.deepEqual(ts.config, { externalPort: 18181, serviceName: 'from-ts' });

    writeFileSync(path.join(dir, 'original.json'), JSON.stringify({ service_name: 'coord1', socket_dir: '/tmp/cerana', external_port: 8080 }));
    const json = await loadConfig('original.json', dir);
    assert.equal(json.config.service_name, 'coord1');

    writeFileSync(path.join(dir, 'c.yaml'), 'serviceName: from-yaml\nexternalPort: 9000\n');
    const yaml = await loadConfig('c.yaml', dir);
    assert.deepEqual(yaml.config, { serviceName: 'from-yaml', externalPort: 9000 });
  });

  it('no config file means the embedded defaults', async () => {
    const none = await loadConfig(undefined, dir);
    assert.deepEqual(none.config, {});
    assert.equal(none.filepath, undefined);
  });

  it('a config file that does not parse is an ERR_CONFIG naming the file', async () => {
    writeFileSync(path.join(dir, 'broken.json'), '{ nope');
    await assert.rejects(loadConfig('broken.json', dir), (err: unknown) => err instanceof CoordinatorError && err.code === 'ERR_CONFIG' && /broken\.json/.test(err.message));
  });
});

describe('cli', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'coord-cli-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { out: (t: string) => { out.push(t); }, err: (t: string) => { err.push(t); } }, out, err };
  }

  it('validate prints every problem with path and rule and exits 1', async () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ external_port: 123456, log_level: 'shout' }));
    const { io: cliIO, err } = io();
    assert.equal(await main(['validate', '--config', file], cliIO), 1);
    const text = err.join('');
    assert.match(text, /2 problems/);
    assert.match(text, /config\.external_port: must be <= 65535 \[rule: maximum\]/);
    assert.match(text, /config\.log_level: .*\[rule: enum\]/);
  });

  it('validate exits 0 on a good config, and flags override the file', async () => {
    const file = path.join(dir, 'good.json');
    writeFileSync(file, JSON.stringify({ external_port: 123456 }));
    const { io: cliIO, out } = io();
    assert.equal(await main(['validate', '-c', file, '-p', '8081'], cliIO), 0);
    assert.match(out.join(''), /configuration is valid/);
  });

  it('--help, --version and bad usage', async () => {
    const h = io();
    assert.equal(await main(['--help'], h.io), 0);
    assert.match(h.out.join(''), /coordinator <command>/);
    assert.match(h.out.join(''), /--socket_dir/);
    const v = io();
    assert.equal(await main(['--version'], v.io), 0);
    assert.match(v.out.join(''), /^\d+\.\d+\.\d+\n$/);
    const bad = io();
    assert.equal(await main(['launch'], bad.io), 2);
    assert.match(bad.err.join(''), /unknown command "launch"/);
    const badFlag = io();
    assert.equal(await main(['start', '--nope'], badFlag.io), 2);
  });
});
