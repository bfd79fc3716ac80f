import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOG } from '../../index.js';
import { renderReference } from '../../scripts/reference.js';

describe('docs', () => {
  it('docs/errors.md documents every error code (regenerate: npx tsx scripts/gen-error-docs.ts)', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
      assert.ok(doc.includes(`| \`${code}\` | \`${spec.wire}\``), `${code} missing or stale in docs/errors.md`);
    }
  });

  it('docs/reference.md is the option reference rendered from the schemas (regenerate: npm run docs)', () => {
    const doc = readFileSync(new URL('../../docs/reference.md', import.meta.url), 'utf8');
    assert.ok(doc === renderReference(), 'docs/reference.md is stale: run npm run docs');
  });

  it('every option of every built-in plugin and every core key has a description', () => {
    const missing = renderReference().split('\n').filter((l) => l.startsWith('| `') && l.endsWith('| — |'));
    assert.deepEqual(missing, []);
  });
});
