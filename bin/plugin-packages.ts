// Plugins published as npm packages, named in a config like built-ins
// ('coordinator-plugin-rate-limit', or { name, options }): resolved from the
// config file's directory (else the working directory) and imported. The
// package's default export (or its `plugin` export) is the plugin.

import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CoordinatorError } from '../core/errors.js';
import type { PluginEntry } from '../core/config/types.js';
import type { PluginLike } from '../core/plugin.js';
import { BUILTIN_NAMES } from '../plugins/builtin-loaders.js';
import { resolveOwnPackage } from '../core/config/self-resolve.js';

function isPackageName(name: string): boolean {
  return !BUILTIN_NAMES.includes(name) && /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name);
}

function isPlugin(value: unknown): value is PluginLike {
  return (typeof value === 'function' && 'definition' in value) || (typeof value === 'object' && value !== null && ('definition' in value || 'apply' in value));
}

async function importPlugin(name: string, from: string): Promise<(PluginLike & ((options?: Record<string, unknown>) => PluginLike)) | undefined> {
  let resolved: string;
  try {
    resolved = createRequire(path.join(from, 'package.json')).resolve(name);
  } catch {
    return undefined; // not installed: validation reports the unknown name (with a suggestion)
  }
  // The package imports 'coordinator-runtime' as a peer: where the app has none installed, it is us.
  await resolveOwnPackage(true);
  const mod = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
  const candidate = [mod.default, mod.plugin, (mod.default as Record<string, unknown> | undefined)?.default].find(isPlugin);
  if (!candidate) throw new CoordinatorError('ERR_UNKNOWN_PLUGIN', `package ${name} does not export a plugin (export default definePlugin({ … }))`);
  return candidate as PluginLike & ((options?: Record<string, unknown>) => PluginLike);
}

/** The config's plugin list with package names replaced by the plugins they export. */
export async function resolvePluginPackages(entries: PluginEntry[], configFile: string | undefined): Promise<PluginEntry[]> {
  const from = configFile ? path.dirname(configFile) : process.cwd();
  const out: PluginEntry[] = [];
  for (const entry of entries) {
    if (typeof entry === 'string' && isPackageName(entry)) {
      out.push((await importPlugin(entry, from)) ?? entry);
    } else if (typeof entry === 'object' && entry !== null && !isPlugin(entry) && typeof (entry as { name?: unknown }).name === 'string' && isPackageName((entry as { name: string }).name)) {
      const named = entry as { name: string; options?: Record<string, unknown> };
      const plugin = await importPlugin(named.name, from);
      out.push(plugin === undefined ? entry : typeof plugin === 'function' ? plugin(named.options ?? {}) : plugin);
    } else {
      out.push(entry);
    }
  }
  return out;
}
