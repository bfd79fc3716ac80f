// --import this file: every module the process resolves is written to stderr
// as "module-loaded <url>" (the start-footprint test reads which load).
import { register } from 'node:module';

const hook = `
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  process.stderr.write('module-loaded ' + resolved.url + '\\n');
  return resolved;
}
`;
register(`data:text/javascript,${encodeURIComponent(hook)}`, import.meta.url);
