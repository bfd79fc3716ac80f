// Writes docs/reference.md from the schemas (npm run docs).
import { writeFileSync } from 'node:fs';
import { renderReference } from './reference.js';

writeFileSync(new URL('../docs/reference.md', import.meta.url), renderReference());
