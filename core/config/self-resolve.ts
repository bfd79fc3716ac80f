// A config file outside any project (the documented systemd layout,
// /etc/coordinator/coordinator.config.ts) imports 'coordinator-runtime',
// which no node_modules next to it can resolve. This answers that one
// specifier with the very module instance that is loading the config (a
// second copy would duplicate undici, pino and every plugin's state), and
// leaves every other import alone: an ESM resolve hook for configs that run
// as modules, and require's loader for configs that run as CommonJS (a .ts
// file outside an ESM package), as module-alias style tools do.

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
  try {
    return await next(specifier, context);
  } catch (err) {
    if (specifier !== ${JSON.stringify(PACKAGE)}) throw err;
    return { url, format: 'module', shortCircuit: true };
  }
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
    if (request !== PACKAGE) return original.call(this, request, parent, isMain);
    try {
      return original.call(this, request, parent, isMain);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
      return self;
    }
  };
}
