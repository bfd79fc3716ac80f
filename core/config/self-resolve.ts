// A config (or a plugin package) imports 'coordinator-runtime': from outside
// any project (the documented systemd layout, /etc/coordinator/…) no
// node_modules can resolve it, and inside one it would load a second copy.
// Once a config is loaded, that one specifier is answered with the very
// module instance that is running (a second copy would duplicate undici,
// pino and every plugin's state, and double the memory); every other import
// is left alone: an ESM resolve hook for modules, and require's loader for
// CommonJS (a .ts file outside an ESM package), as module-alias style tools do.

import Module, { register } from 'node:module';

const PACKAGE = 'coordinator-runtime';
const SLOT = Symbol.for('coordinator-runtime.self');

type Namespace = Record<string, unknown>;
type Load = (request: string, parent: unknown, isMain: boolean) => unknown;

let registered = false;

function esmHook(names: string[]): string {
  const body = `const m = globalThis[Symbol.for('coordinator-runtime.self')];\n${names.map((n) => `export const ${n} = m[${JSON.stringify(n)}];`).join('\n')}\n`;
  return `
const url = ${JSON.stringify(`data:text/javascript,${encodeURIComponent(body)}`)};
export async function resolve(specifier, context, next) {
  if (specifier === ${JSON.stringify(PACKAGE)}) return { url, format: 'module', shortCircuit: true };
  return next(specifier, context);
}
`;
}

/** Install the hooks once (Node 20.6+), answering with `self` (the runtime's own index module). */
export function resolveOwnPackageFromConfigs(self: Namespace): void {
  if (registered) return;
  registered = true;
  (globalThis as Record<symbol, unknown>)[SLOT] = self;
  const names = Object.keys(self).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
  register(`data:text/javascript,${encodeURIComponent(esmHook(names))}`, import.meta.url);
  const internals = Module as unknown as { _load: Load };
  const original = internals._load;
  internals._load = function load(request, parent, isMain) {
    return request === PACKAGE ? self : original.call(this, request, parent, isMain);
  };
}
