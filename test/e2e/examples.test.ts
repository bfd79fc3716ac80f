// The examples run with one command and print what their READMEs promise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

function runExample(file: string): string {
  const result = spawnSync(tsx, [file], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

describe('examples', function () {
  this.timeout(60_000);

  it('examples/embedded: custom plugin, call, fan-out, no provider', () => {
    const out = runExample('examples/embedded/app.ts');
    assert.match(out, /Add {2}-> \{ value: 5, tookMs: \d+ \}/);
    assert.match(out, /Sum3 -> \{ value: 6, tookMs: \d+ \}/);
    assert.match(out, /Nope -> ERR_NO_PROVIDER "no providers available for task"/);
  });

  it('examples/streaming: a stream\'s life through fake peers, events printed in order', () => {
    const out = runExample('examples/streaming/run.ts');
    assert.match(out, /PUBLISH-DENY/);
    assert.match(out, /<- ENCODE-START .*"Resolutions":"1280x720-30,640x360-30","Record":"True"/);
    assert.match(out, /<- PUBLISH-ACCEPT/);
    assert.match(out, /"load":1,"capacity":4,"encoderCount":1/);
    const events = [...out.matchAll(/event (\S+) channel=demo seq=(\d)/g)].map((m) => `${m[1]}#${m[2]}`);
    assert.deepEqual(events, ['stream-available#1', 'stream-available#2', 'stream-closed#3']);
  });

  it('examples/custom-plugin: the rate limiter rejects the requests over its burst', () => {
    const out = runExample('examples/custom-plugin/main.ts');
    assert.equal((out.match(/: pong/g) ?? []).length, 3);
    assert.equal((out.match(/ERR_REJECTED rate limit/g) ?? []).length, 2);
  });

  it('examples/plugin-package: a plugin published as its own package, loaded by name, in the plugin tree, serving its task', () => {
    const out = runExample('examples/plugin-package/run.ts');
    assert.match(out, /└─ coordinator-plugin-hello@1\.0\.0 {2}\(needs inproc-provider\)/);
    assert.match(out, /provides service hello\.counter/);
    assert.match(out, /Hello -> hi plugin author/);
  });
});
