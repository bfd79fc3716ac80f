// Build a runtime from a config: resolve it, make the logger, register the
// plugins it names (objects, built-in names, or { name, options }).

import { Coordinator } from './runtime.js';
import { CoordinatorError } from './errors.js';
import type { CoordinatorConfig, PluginEntry } from './config/types.js';
import { checkCoreConfig, resolveConfig } from './config/resolve.js';
import { applyCoreEnv, cleanEnv } from './config/env.js';
import type { ConfigProblem } from './config/validate.js';
import { didYouMean } from './config/suggest.js';
import { resolvePluginOptions } from './plugin-options.js';
import type { ResolvedConfig } from './config/types.js';
import type { Logger } from './logger.js';
import { toPluginInstance, type PluginFactory, type PluginLike } from './plugin.js';

export interface CreateOptions {
  /** Use this logger (embedding apps); otherwise one is made from logLevel. */
  logger?: Logger;
  /**
   * Environment variables to honour (the originals' variables, HTTP_PORT,
   * SOCKET_DIR, …), which then override the config. Default: none, so
   * nothing in process.env changes an embedding app's settings; pass
   * `process.env` to opt in (the CLI does). Empty variables count as unset.
   */
  env?: NodeJS.ProcessEnv;
  /** Settings that win over the config and the environment (the CLI's flags). */
  overrides?: CoordinatorConfig;
  /** Config file the config came from, for messages and relative paths. */
  source?: string;
}

export interface PluginCatalog {
  /** The built-in plugins that may be named (the CLI loads only those its config names). */
  builtins: Record<string, PluginFactory<any>>;
  defaults: string[];
  /** Every built-in name, for messages and suggestions (default: the keys of `builtins`). */
  known?: readonly string[];
}

const knownNames = (catalog: PluginCatalog): readonly string[] => catalog.known ?? Object.keys(catalog.builtins);

export function resolvePluginEntry(entry: PluginEntry, catalog: PluginCatalog, index: number): PluginLike {
  if (typeof entry === 'string') {
    const factory = Object.prototype.hasOwnProperty.call(catalog.builtins, entry) ? catalog.builtins[entry] : undefined;
    if (!factory) throw new CoordinatorError('ERR_UNKNOWN_PLUGIN', `config.plugins[${index}]: no built-in plugin named ${entry}${didYouMean(entry, knownNames(catalog))} (known: ${knownNames(catalog).join(', ')}; a plugin package must be installed where the config is)`);
    return factory;
  }
  if (typeof entry === 'function' || (typeof entry === 'object' && entry !== null && ('definition' in entry || 'apply' in entry))) {
    return toPluginInstance(entry as PluginLike);
  }
  if (typeof entry === 'object' && entry !== null && typeof (entry as { name?: unknown }).name === 'string') {
    const named = entry as { name: string; options?: Record<string, unknown> };
    const factory = Object.prototype.hasOwnProperty.call(catalog.builtins, named.name) ? catalog.builtins[named.name] : undefined;
    if (!factory) throw new CoordinatorError('ERR_UNKNOWN_PLUGIN', `config.plugins[${index}]: no built-in plugin named ${named.name}${didYouMean(named.name, knownNames(catalog))} (known: ${knownNames(catalog).join(', ')})`);
    return factory(named.options ?? {});
  }
  throw new CoordinatorError('ERR_CONFIG', `config.plugins[${index}] must be a plugin, a built-in plugin name or { name, options }`);
}

/** The config a runtime is built from: the file, the environment over it (when given), the overrides over both. */
export function effectiveConfig(config: CoordinatorConfig, options: Pick<CreateOptions, 'env' | 'overrides'> = {}): CoordinatorConfig {
  const withEnv = options.env ? applyCoreEnv(config, options.env) : config;
  if (!options.overrides) return withEnv;
  const out: CoordinatorConfig = { ...withEnv, ...options.overrides };
  // An override replaces the original's spelling of the same key too.
  for (const [key, alias] of Object.entries(ORIGINAL_KEYS)) {
    if ((options.overrides as Record<string, unknown>)[key] !== undefined) delete (out as Record<string, unknown>)[alias];
  }
  return out;
}

/** Core keys and the original coordinator's spelling of them. */
const ORIGINAL_KEYS = { serviceName: 'service_name', socketDir: 'socket_dir', externalPort: 'external_port', requestTimeoutMs: 'request_timeout', logLevel: 'log_level' } as const;

export function createCoordinatorWith(catalog: PluginCatalog, config: CoordinatorConfig = {}, options: CreateOptions = {}): Coordinator {
  const effective = effectiveConfig(config, options);
  const resolved = resolveConfig(effective, options.source ? { source: options.source } : {});
  const env = cleanEnv(options.env ?? {});
  const runtime = new Coordinator({ config: resolved, env, ...(options.logger ? { logger: options.logger } : {}) });
  const entries = effective.plugins ?? catalog.defaults;
  entries.forEach((entry, index) => runtime.use(resolvePluginEntry(entry, catalog, index)));
  return runtime;
}

/**
 * Every problem in a config, without starting anything: core keys, plugin
 * entries, and each plugin's options against its own schema.
 */
export function checkConfig(input: CoordinatorConfig, catalog: PluginCatalog, options: Pick<CreateOptions, 'env' | 'overrides' | 'source'> = {}): ConfigProblem[] {
  const config = effectiveConfig(input, options);
  const problems = checkCoreConfig(config);
  let resolved: ResolvedConfig | undefined;
  if (problems.length === 0) {
    try {
      resolved = resolveConfig(config, options.source ? { source: options.source } : {});
    } catch {
      // reported by checkCoreConfig
    }
  }
  const env = cleanEnv(options.env ?? {});
  const entries = Array.isArray(config.plugins) ? config.plugins : catalog.defaults;
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    let instance;
    try {
      instance = toPluginInstance(resolvePluginEntry(entry, catalog, index));
    } catch (err) {
      problems.push({ path: `config.plugins[${index}]`, rule: 'plugin', message: (err as Error).message.replace(/^config\.plugins\[\d+\]: /, '') });
      return;
    }
    const { definition } = instance;
    if (seen.has(definition.name)) {
      problems.push({ path: `config.plugins[${index}]`, rule: 'unique', message: `plugin ${definition.name} is listed twice` });
    }
    for (const dependency of definition.dependencies ?? []) {
      if (!seen.has(dependency)) {
        problems.push({ path: `config.plugins[${index}]`, rule: 'dependencies', message: `plugin ${definition.name} needs plugin ${dependency} listed before it` });
      }
    }
    seen.add(definition.name);
    if (resolved) {
      problems.push(...resolvePluginOptions(instance, config.pluginOptions?.[definition.name], { config: resolved, env }).problems);
    }
  });
  // Options for a plugin that is not configured would be dropped without a word.
  for (const name of Object.keys(config.pluginOptions ?? {})) {
    if (seen.has(name)) continue;
    const known = knownNames(catalog).includes(name);
    problems.push({
      path: `config.pluginOptions.${name}`,
      rule: 'plugin',
      message: known
        ? `plugin ${name} is not in config.plugins, so these options would be ignored: add it to plugins or remove them`
        : `no plugin named ${name} is configured${didYouMean(name, [...seen, ...knownNames(catalog)])}`,
    });
  }
  // The same warning from two plugins (one shared credential) is one problem.
  return problems.filter((p, i) => problems.findIndex((q) => q.path === p.path && q.message === p.message) === i
    && !(p.severity === 'warning' && problems.findIndex((q) => q.severity === 'warning' && q.message === p.message) !== i));
}
