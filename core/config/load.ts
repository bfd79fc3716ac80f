// Find and load coordinator.config.{ts,mts,js,mjs,cjs,json,yaml,yml} with
// cosmiconfig. TypeScript configs run on Node's own type stripping where it
// has it (22.18+), else through tsx (an optional dependency, loaded only then).

import { pathToFileURL } from 'node:url';
import path from 'node:path';
import type { Loader } from 'cosmiconfig';
import { CoordinatorError } from '../errors.js';
import type { CoordinatorConfig } from './types.js';
import { hooksAreCostly, namesOwnPackage, resolveOwnPackage } from './self-resolve.js';

export const MODULE_NAME = 'coordinator';

export interface LoadedConfig {
  config: CoordinatorConfig;
  /** The file it came from; undefined when none was found (embedded defaults). */
  filepath: string | undefined;
}

let loads = 0;

/** Node 22.18+ and 23.6+ run TypeScript themselves (type stripping); elsewhere tsx is needed. */
function nativeTypeScript(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

async function importTypeScript(href: string, filepath: string): Promise<Record<string, unknown>> {
  if (nativeTypeScript()) return (await import(`${href}?load=${++loads}`)) as Record<string, unknown>;
  let tsx: typeof import('tsx/esm/api');
  try {
    tsx = await import('tsx/esm/api');
  } catch (cause) {
    throw new CoordinatorError('ERR_CONFIG', `${filepath}: loading a TypeScript config on Node ${process.versions.node} needs tsx (npm install tsx), or Node 22.18+ which runs TypeScript itself, or a .js/.mjs/.json config`, { cause });
  }
  return (await tsx.tsImport(href, { parentURL: href })) as Record<string, unknown>;
}

async function importConfig(filepath: string): Promise<Record<string, unknown>> {
  const href = pathToFileURL(filepath).href;
  // A query per load: a config edited between two loads in one process is read again.
  return /\.[mc]?ts$/.test(filepath) ? importTypeScript(href, filepath) : (await import(`${href}?load=${++loads}`)) as Record<string, unknown>;
}

const loadModule: Loader = async (filepath) => {
  // 'coordinator-runtime' from outside any project is the running copy: a config whose code (or a local file it
  // imports) names it gets the hooks first; another only where they cost no thread (Node 22.15+), for what the scan missed.
  if (namesOwnPackage(filepath)) await resolveOwnPackage(!/\.m[jt]s$/.test(filepath));
  else if (!hooksAreCostly) await resolveOwnPackage(false);
  const mod = await importConfig(filepath);
  let exports: Record<string, unknown> = mod;
  // Run as CommonJS, the namespace's default is module.exports, which holds the ES exports.
  const inner = mod.default;
  if (inner && typeof inner === 'object' && Object.prototype.hasOwnProperty.call(inner, '__esModule')) exports = inner as Record<string, unknown>;
  const value: unknown = exports.default;
  if (value === undefined) {
    const named = Object.keys(exports).filter((k) => k !== '__esModule' && k !== 'default' && k !== 'module.exports');
    throw new CoordinatorError('ERR_CONFIG', `${filepath} has no default export${named.length > 0 ? ` (it exports ${named.join(', ')})` : ''}: write export default defineConfig({ … })`);
  }
  return typeof value === 'function' ? await (value as () => unknown)() : value;
};

async function explorer() {
  // cosmiconfig (and its YAML parser) load only when a config file is looked for.
  const { cosmiconfig } = await import('cosmiconfig');
  return cosmiconfig(MODULE_NAME, {
    searchPlaces: [
      `${MODULE_NAME}.config.ts`, `${MODULE_NAME}.config.mts`, `${MODULE_NAME}.config.js`, `${MODULE_NAME}.config.mjs`,
      `${MODULE_NAME}.config.cjs`, `${MODULE_NAME}.config.json`, `${MODULE_NAME}.config.yaml`, `${MODULE_NAME}.config.yml`,
    ],
    searchStrategy: 'none',
    loaders: { '.ts': loadModule, '.mts': loadModule, '.cts': loadModule, '.js': loadModule, '.mjs': loadModule },
  });
}

/**
 * Load a config: from `file` when given, else from the first config file in
 * `cwd`. No file found → empty config (the embedded defaults).
 */
export async function loadConfig(file?: string, cwd = process.cwd()): Promise<LoadedConfig> {
  const ex = await explorer();
  try {
    const result = file ? await ex.load(path.resolve(cwd, file)) : await ex.search(cwd);
    if (!result || result.isEmpty) return { config: {}, filepath: result?.filepath };
    const config = result.config as unknown;
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new CoordinatorError('ERR_CONFIG', `${result.filepath}: the config must be an object (export default defineConfig({...}))`);
    }
    return { config: config as CoordinatorConfig, filepath: result.filepath };
  } catch (err) {
    if (err instanceof CoordinatorError) throw err;
    const message = (err as Error).message ?? String(err);
    throw new CoordinatorError('ERR_CONFIG', `cannot load config${file ? ` ${file}` : ''}: ${message}`, { cause: err });
  }
}
