// A config (or a plugin package) imports 'coordinator-runtime': from outside
// any project (the documented systemd layout, /etc/coordinator/…) no
// node_modules can resolve it, and inside one it would load a second copy.
// Once a config is loaded, that one specifier is answered with the very
// module instance that is running (a second copy would duplicate undici,
// pino and every plugin's state, and double the memory); every other import
// is left alone: an ESM resolve hook for modules (pointing at the running
// index module's URL, so nothing loads before it is imported), and
// require's loader for CommonJS (a .ts file outside an ESM package), as
// module-alias style tools do.

import Module, { register } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const PACKAGE = 'coordinator-runtime';

export type Namespace = Record<string, unknown>;
type Load = (request: string, parent: unknown, isMain: boolean) => unknown;

let registered = false;
let self: Namespace | undefined;

function esmHook(selfUrl: string): string {
  return `
export async function resolve(specifier, context, next) {
  return next(specifier === ${JSON.stringify(PACKAGE)} ? ${JSON.stringify(selfUrl)} : specifier, context);
}
`;
}

type SyncResolve = (specifier: string, context: unknown, next: (specifier: string, context: unknown) => unknown) => unknown;

/**
 * Install the hooks once. An ES module importing the package gets `selfUrl`
 * (the runtime's own index module: the same instance, loaded only when
 * something asks for it); a CommonJS require gets `namespace`, which the
 * caller passes when a CommonJS file may ask (require is synchronous), and
 * is otherwise resolved as usual. In-thread hooks where Node has them
 * (module.registerHooks, 22.15+); else module.register (20.6+), whose hooks
 * run on a thread of their own (~10 MiB): hence installed only when needed.
 */
function install(selfUrl: string, namespace?: Namespace): void {
  if (namespace) self = namespace;
  if (registered) return;
  registered = true;
  const registerHooks = (Module as unknown as { registerHooks?: (hooks: { resolve: SyncResolve }) => unknown }).registerHooks;
  if (registerHooks) registerHooks({ resolve: (specifier, context, next) => next(specifier === PACKAGE ? selfUrl : specifier, context) });
  else register(`data:text/javascript,${encodeURIComponent(esmHook(selfUrl))}`, import.meta.url);
  const internals = Module as unknown as { _load: Load };
  const original = internals._load;
  internals._load = function load(request, parent, isMain) {
    return request === PACKAGE && self ? self : original.call(this, request, parent, isMain);
  };
}

/** The package's own entry point: index.ts run from the sources, dist/index.js built. */
const OWN_INDEX_URL = new URL(`../../index${path.extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;

/**
 * From now on, 'coordinator-runtime' is the running copy. `commonJs`: a
 * CommonJS file may require it (require cannot wait), so the package's
 * namespace is loaded now; otherwise it loads only if something imports it.
 */
export async function resolveOwnPackage(commonJs: boolean): Promise<void> {
  install(OWN_INDEX_URL, commonJs ? (await import(OWN_INDEX_URL)) as Namespace : undefined);
}

/** Node runs module hooks in its own thread (module.registerHooks is missing): installing them has a cost. */
export const hooksAreCostly = typeof (Module as unknown as { registerHooks?: unknown }).registerHooks !== 'function';

const RELATIVE_IMPORT = /(?:from|import|require)\s*\(?\s*['"`](\.\.?\/[^'"`]+)['"`]/g;

/**
 * Whether a config, or a local file it imports (followed a few levels, a few
 * dozen files at most), names the package in its code (comments aside): such
 * a config gets the hooks before it loads.
 */
export function namesOwnPackage(filepath: string, seen = new Set<string>()): boolean {
  if (seen.has(filepath) || seen.size >= 32) return false;
  seen.add(filepath);
  let source: string;
  try {
    source = readFileSync(filepath, 'utf8');
  } catch {
    return false;
  }
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  if (/['"`]coordinator-runtime(\/[^'"`]*)?['"`]/.test(code)) return true;
  for (const [, specifier] of code.matchAll(RELATIVE_IMPORT)) {
    const target = path.resolve(path.dirname(filepath), specifier!);
    const candidates = [target, target.replace(/\.[cm]?js$/, '.ts'), `${target}.js`, `${target}.ts`, path.join(target, 'index.js')];
    const found = candidates.find((c) => /\.[cm]?[jt]s$/.test(c) && existsSync(c) && statSync(c).isFile());
    if (found && namesOwnPackage(found, seen)) return true;
  }
  return false;
}
