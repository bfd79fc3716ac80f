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

  it('examples/custom-plugin: the rate limiter rejects the requests over its burst', () => {
    const out = runExample('examples/custom-plugin/main.ts');
    assert.equal((out.match(/: pong/g) ?? []).length, 3);
    assert.equal((out.match(/ERR_REJECTED rate limit/g) ?? []).length, 2);
  });
});
