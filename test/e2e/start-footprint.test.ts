// `coordinator start` loads the modules of the plugins its config names and
// no others, and what a plugin needs only to send (undici) or to verify a
// control token (jose) loads when first used, not at start.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, startChild } from '../support/processes.js';
import { builtinPlugins } from '../../index.js';
import { BUILTIN_NAMES, loadBuiltinPlugins } from '../../plugins/builtin-loaders.js';

describe('coordinator start: what loads', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'footprint-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the CLI\'s table of plugins loaded by name matches the library\'s table of built-ins', async () => {
    assert.deepEqual([...BUILTIN_NAMES].sort(), Object.keys(builtinPlugins).sort());
    const loaded = await loadBuiltinPlugins(BUILTIN_NAMES);
    // (by name: run through tsx, a dynamic import and a static one of the same file may be two module instances)
    for (const name of BUILTIN_NAMES) assert.equal(loaded[name]!.pluginName, builtinPlugins[name]!.pluginName, name);
  });

  it('only the configured plugins, and neither undici nor jose before they are used', async () => {
    writeFileSync(path.join(dir, 'coordinator.config.mjs'), `/** @type {import('coordinator-runtime').CoordinatorConfig} */\nexport default { externalPort: 0, bindAddress: '127.0.0.1', plugins: ['http-server', 'key-auth'] };\n`);
    // The CLI's main from the sources, through tsx loaded for the whole process (the launcher would pick dist/ when it is current,
    // and its own tsx import would bypass the trace): what `coordinator start` runs, whatever the state of dist/.
    const trace = path.join(dir, 'modules.trace');
    const cli = pathToFileURL(path.join(ROOT, 'bin', 'cli.ts')).href;
    const child = startChild(process.execPath, ['--import', pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href, '--import', path.join(ROOT, 'test', 'support', 'module-trace.mjs'),
      '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(cli)}); await main(['start']);`], { MODULE_TRACE_FILE: trace }, dir);
    try {
      await child.waitFor(/coordinator ready/);
      await child.stop();
      assert.ok(existsSync(trace), `the module trace was written:\n${child.output()}`);
      const loaded = [...readFileSync(trace, 'utf8').matchAll(/^module-loaded (\S+)$/gm)].map((m) => m[1]!);
      const any = (pattern: RegExp) => loaded.filter((url) => pattern.test(url));
      assert.ok(any(/\/plugins\/http-server\/index\.[jt]s$/).length > 0, 'http-server loads');
      assert.ok(any(/\/plugins\/key-auth\/index\.[jt]s$/).length > 0, 'key-auth loads');
      for (const plugin of ['unix-transport', 'http-ingress', 'stream-proxy', 'event-callbacks', 'streaming-control', 'operations', 'tracing', 'cluster', 'inproc-provider']) {
        // (the CLI reads OpenTelemetry's variables itself, to add tracing when they ask for it: tracing/env only)
        assert.deepEqual(any(new RegExp(`/plugins/${plugin}/`)).filter((url) => !/\/plugins\/tracing\/env\.[jt]s$/.test(url)), [], `${plugin} is not configured and does not load`);
      }
      assert.deepEqual(any(/\/(index|builtin)\.[jt]s$/).filter((url) => !/\/plugins\/[^/]+\/index/.test(url) && !/node_modules/.test(url)), [], 'neither the package index nor the static plugin table loads');
      for (const pkg of ['undici', 'jose', 'better-sqlite3', 'prom-client', '@nats-io']) {
        assert.deepEqual(any(new RegExp(`/node_modules/${pkg}/`)), [], `${pkg} does not load at start`);
      }
    } finally {
      await child.stop();
    }
  });
});
