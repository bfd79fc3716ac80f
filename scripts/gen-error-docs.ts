// Writes docs/errors.md from the error catalog (npx tsx scripts/gen-error-docs.ts).
// A test checks the file lists every code, so docs and catalog cannot drift.
import { writeFileSync } from 'node:fs';
import { ERROR_CATALOG } from '../core/errors.js';

let text = `# Errors

Every error the runtime raises is a \`CoordinatorError\` with a stable \`code\`, the
request id (\`requestId\`) when there is one, an HTTP-like \`status\`, a
\`retryable\` flag and a \`hint\`. On the wire only the text travels (the acomm
\`error\` string). Where the original Go coordinator had a text for the
situation, ours is the same, so Go peers see what they always saw; a provider's
own error text is relayed unchanged.

| code | wire text | status | retryable | what to do |
|---|---|---|---|---|
`;
for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
  text += `| \`${code}\` | \`${spec.wire}\` | ${spec.status} | ${spec.retryable ? 'yes' : 'no'} | ${spec.hint} |\n`;
}
text += `
\`instanceof CoordinatorError\` also recognises errors raised by another installed
copy of the runtime (a \`Symbol.for\` marker), because embedding apps end up with
duplicates.
`;
writeFileSync(new URL('../docs/errors.md', import.meta.url), text);
