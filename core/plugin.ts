// The plugin contract. A plugin names itself once, may depend on other
// plugins by name, may declare a JSON schema for its options (validated with
// ajv before apply), and taps hooks inside apply().

import type { Coordinator } from './runtime.js';
import type { CoordinatorHooks, LifecycleContext } from './hooks.js';
import type { Logger } from './logger.js';
import type { Delivery } from './delivery.js';
import type { ResolvedConfig } from './config/types.js';

/**
 * The services plugins provide, by name. Declare yours by declaration
 * merging, and `provide`/`service` check the name and the type at compile time:
 *
 *     declare module 'coordinator-runtime' {
 *       interface ServiceTypes { 'rate.limiter': RateLimiter }
 *     }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ServiceTypes {}

/** A declared service name. */
export type ServiceName = keyof ServiceTypes & string;

/** A JSON schema object (draft 2019/2020 subset ajv understands). */
export type JsonSchema = Record<string, unknown>;

export type LifecycleFn = (context: LifecycleContext) => void | Promise<void>;

/** What a plugin's apply() receives: its view of the runtime, bound to its name. */
export interface PluginApi {
  /** The plugin's own name; use it as the tap name. */
  readonly name: string;
  readonly runtime: Coordinator;
  readonly hooks: CoordinatorHooks;
  readonly config: ResolvedConfig;
  /** Child logger carrying `plugin: name`. */
  readonly log: Logger;
  /** Run at start, in registration order. */
  onStart(fn: LifecycleFn): void;
  /** Run once every plugin has started. */
  onReady(fn: LifecycleFn): void;
  /** Stop accepting new work; runs in reverse registration order, before in-flight requests drain. */
  onDrain(fn: LifecycleFn): void;
  /** Close everything; runs in reverse registration order, after the drain. */
  onStop(fn: LifecycleFn): void;
  /** Offer a service (declared in ServiceTypes) to plugins that depend on this one. */
  provide<K extends ServiceName>(service: K, value: ServiceTypes[K]): void;
  /** Use a service another plugin provides (declare that plugin in `dependencies`). */
  service<K extends ServiceName>(service: K): ServiceTypes[K];
  /** Deliver responses whose response hook has this URL scheme ('unix', 'http', …). */
  registerDelivery(scheme: string, delivery: Delivery): void;
  /** This plugin's readiness check (listeners bound, stores open), for /readyz. */
  readiness(check: () => boolean): void;
}

/** What a plugin's `check` may look at besides its options. */
export interface PluginCheckContext {
  readonly config: ResolvedConfig;
  /** The environment the runtime was given (empty when none). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A problem `check` found: `path` is relative to the plugin's options ('' for the plugin as a whole). */
export interface PluginCheckProblem {
  path: string;
  message: string;
  /** 'error' (default): start refuses; 'warning': start goes on, validate reports it. */
  severity?: 'error' | 'warning';
}

export interface PluginDefinition<O = Record<string, unknown>> {
  /** Unique name; used for taps, logs, errors and the config key of its options. */
  readonly name: string;
  readonly version?: string;
  /** Names of plugins that must be registered before this one. */
  readonly dependencies?: readonly string[];
  /** JSON schema for the options; defaults in it are applied. Give each property a `description` (the option reference is generated from it). */
  readonly optionsSchema?: JsonSchema;
  /**
   * Options taken from environment variables (the originals' variables),
   * applied over the configured options when the runtime was given an
   * environment. Return only the variables that are set.
   */
  env?(env: Readonly<Record<string, string | undefined>>): Partial<O>;
  /**
   * Checks beyond the schema that start would otherwise fail on (a URL that
   * does not parse, a secret that is missing), run with the final options by
   * both start and `coordinator validate`.
   */
  check?(options: O, context: PluginCheckContext): PluginCheckProblem[];
  /** Tap hooks and register lifecycle work. Never tap per request. */
  apply(api: PluginApi, options: O): void | Promise<void>;
}

/** A plugin with the options it was configured with, ready to register. */
export interface PluginInstance<O = Record<string, unknown>> {
  readonly definition: PluginDefinition<O>;
  readonly options: Partial<O> | undefined;
}

/** What definePlugin returns: call it with options to configure an instance. */
export interface PluginFactory<O = Record<string, unknown>> {
  (options?: Partial<O>): PluginInstance<O>;
  readonly definition: PluginDefinition<O>;
  readonly pluginName: string;
}

export type PluginLike = PluginInstance<any> | PluginFactory<any> | PluginDefinition<any>;

export function definePlugin<O = Record<string, unknown>>(definition: PluginDefinition<O>): PluginFactory<O> {
  if (!definition || typeof definition.name !== 'string' || definition.name === '') {
    throw new TypeError('definePlugin: a plugin needs a non-empty name');
  }
  if (typeof definition.apply !== 'function') {
    throw new TypeError(`definePlugin: plugin ${definition.name} needs an apply(api, options) function`);
  }
  const factory = ((options?: Partial<O>) => ({ definition, options })) as PluginFactory<O>;
  Object.defineProperty(factory, 'definition', { value: definition });
  Object.defineProperty(factory, 'pluginName', { value: definition.name });
  return factory;
}

/** Normalise any accepted plugin form into an instance. */
export function toPluginInstance(plugin: PluginLike): PluginInstance<any> {
  if (typeof plugin === 'function') return { definition: plugin.definition, options: undefined };
  if ('definition' in plugin && plugin.definition) return plugin;
  return { definition: plugin as PluginDefinition<any>, options: undefined };
}
