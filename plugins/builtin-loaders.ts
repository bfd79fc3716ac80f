// The built-in plugins by name, each loaded only when asked for: `coordinator
// start` imports the plugins its config names and no others (a lighter start:
// an unconfigured plugin's modules and dependencies never load). The library
// entry point (index.ts) still exports every plugin; see builtin.ts.

import type { PluginFactory } from '../core/plugin.js';

const LOADERS: Record<string, () => Promise<PluginFactory<any>>> = {
  'inproc-provider': async () => (await import('./inproc-provider/index.js')).inProcessProvider,
  'unix-transport': async () => (await import('./unix-transport/index.js')).unixTransport,
  'http-server': async () => (await import('./http-server/index.js')).httpServer,
  'http-ingress': async () => (await import('./http-ingress/index.js')).httpIngress,
  'stream-proxy': async () => (await import('./stream-proxy/index.js')).streamProxy,
  'key-auth': async () => (await import('./key-auth/index.js')).keyAuth,
  'event-callbacks': async () => (await import('./event-callbacks/index.js')).eventCallbacks,
  'streaming-control': async () => (await import('./streaming-control/index.js')).streamingControl,
  operations: async () => (await import('./operations/index.js')).operations,
  tracing: async () => (await import('./tracing/index.js')).tracing,
  cluster: async () => (await import('./cluster/index.js')).cluster,
};

/** Every built-in plugin name. */
export const BUILTIN_NAMES: readonly string[] = Object.keys(LOADERS);

/**
 * The plugin sets `coordinator start` runs when a config lists none, by mode:
 * 'all' (both originals on one HTTP server), 'acomm' (the acomm coordinator:
 * unix sockets, HTTP ingress, stream proxy) and 'streaming' (the streaming
 * coordinator: control channels, key auth, callbacks, commands API); each
 * with operations (health, metrics, dashboard).
 */
export const PLUGIN_SETS = {
  all: ['unix-transport', 'http-server', 'http-ingress', 'stream-proxy', 'key-auth', 'event-callbacks', 'streaming-control', 'operations'],
  acomm: ['unix-transport', 'http-server', 'http-ingress', 'stream-proxy', 'operations'],
  streaming: ['http-server', 'key-auth', 'event-callbacks', 'streaming-control', 'operations'],
} as const satisfies Record<string, readonly string[]>;

export type CoordinatorMode = keyof typeof PLUGIN_SETS;

/** The factories of the built-in plugins among `names` (other names are left for validation to report). */
export async function loadBuiltinPlugins(names: Iterable<string>): Promise<Record<string, PluginFactory<any>>> {
  const wanted = [...new Set(names)].filter((name) => Object.prototype.hasOwnProperty.call(LOADERS, name));
  const factories = await Promise.all(wanted.map((name) => LOADERS[name]!()));
  return Object.fromEntries(wanted.map((name, i) => [name, factories[i]!]));
}
