import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOG } from '../../index.js';

describe('docs', () => {
  it('docs/errors.md documents every error code (regenerate: npx tsx scripts/gen-error-docs.ts)', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
      assert.ok(doc.includes(`| \`${code}\` | \`${spec.wire}\``), `${code} missing or stale in docs/errors.md`);
    }
  });
});
