// --import this file with MODULE_TRACE_FILE set: every module the process
// resolves is appended to that file as "module-loaded <url>" (the
// start-footprint test reads which load). The hooks run on their own thread;
// a synchronous append from there is on disk before the process exits, where
// a write to stderr could still be in flight between the threads and be lost.
import { register } from 'node:module';

const hook = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(file, 'module-loaded ' + resolved.url + '\\n');
  return resolved;
}
`;
const file = process.env.MODULE_TRACE_FILE;
if (!file) throw new Error('module-trace: set MODULE_TRACE_FILE to the file the trace goes to');
register(`data:text/javascript,${encodeURIComponent(hook)}`, import.meta.url, { data: { file } });
