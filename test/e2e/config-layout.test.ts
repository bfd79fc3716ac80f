// Issue 11 §6: the documented systemd layout works as written: a config in a
// directory outside any project (/etc/coordinator style) that imports
// 'coordinator-runtime', as TypeScript run as CommonJS and as an ES module;
// and a production install without dev tools does not fail at `prepare`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, startChild } from '../support/processes.js';
import { tempSocketDir } from '../support/sockets.js';

describe('config files outside the project, production installs', function () {
  this.timeout(60_000);
  let etc: string;
  let sockets: ReturnType<typeof tempSocketDir>;

  beforeEach(() => {
    etc = mkdtempSync(path.join(tmpdir(), 'etc-coordinator-'));
    sockets = tempSocketDir();
  });
  afterEach(() => {
    rmSync(etc, { recursive: true, force: true });
    sockets.cleanup();
  });

  const config = (socketDir: string) => `import { defineConfig, inProcessProvider } from 'coordinator-runtime';

export default defineConfig({
  serviceName: 'etc',
  socketDir: '${socketDir}',
  externalPort: 0,
  plugins: ['unix-transport', 'http-server', inProcessProvider({ tasks: { Ping: () => 'pong' } })],
});
`;

  for (const file of ['coordinator.config.ts', 'coordinator.config.mts']) {
    it(`${file} importing 'coordinator-runtime' from a directory with no node_modules: validate and start`, async () => {
      const configFile = path.join(etc, file);
      writeFileSync(configFile, config(sockets.dir));
      const validate = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'coordinator.js'), 'validate', '--config', configFile], { cwd: etc, encoding: 'utf8' });
      assert.equal(validate.status, 0, validate.stderr);
      assert.match(validate.stdout, /configuration is valid/);
      const child = startChild(process.execPath, [path.join(ROOT, 'bin', 'coordinator.js'), 'start', '--config', configFile], {}, etc);
      try {
        await child.waitFor(/coordinator ready/, 30_000);
        assert.match(child.output(), /"plugins":\["unix-transport","http-server","inproc-provider"\]/);
      } finally {
        await child.stop();
      }
    });
  }

  it("a config that imports 'coordinator-runtime' only through a local helper file (the config itself never names it)", () => {
    writeFileSync(path.join(etc, 'helper.mjs'), `import { defineConfig, inProcessProvider } from 'coordinator-runtime';
export const make = (socketDir) => defineConfig({ socketDir, externalPort: 0, plugins: ['unix-transport', 'http-server', inProcessProvider({ tasks: { Ping: () => 'pong' } })] });
`);
    const configFile = path.join(etc, 'coordinator.config.mjs');
    writeFileSync(configFile, `// Built by a helper.\nimport { make } from './helper.mjs';\nexport default make(${JSON.stringify(sockets.dir)});\n`);
    const validate = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'coordinator.js'), 'validate', '--config', configFile], { cwd: etc, encoding: 'utf8' });
    assert.equal(validate.status, 0, validate.stderr);
    assert.match(validate.stdout, /configuration is valid/);
  });

  it('prepare succeeds without typescript (npm ci --omit=dev in a clone): it skips the build and says why', () => {
    const clone = mkdtempSync(path.join(tmpdir(), 'coord-prod-'));
    try {
      mkdirSync(path.join(clone, 'scripts'));
      copyFileSync(path.join(ROOT, 'scripts', 'build.mjs'), path.join(clone, 'scripts', 'build.mjs'));
      copyFileSync(path.join(ROOT, 'package.json'), path.join(clone, 'package.json'));
      const run = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: clone, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /typescript is not installed \(production install\): skipping dist\//);
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });
});
