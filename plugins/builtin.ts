// Built-in plugins, by the name a config file may use for them.

import type { PluginFactory } from '../core/plugin.js';
import { inProcessProvider } from './inproc-provider/index.js';
import { unixTransport } from './unix-transport/index.js';
import { httpServer } from './http-server/index.js';
import { httpIngress } from './http-ingress/index.js';
import { streamProxy } from './stream-proxy/index.js';
import { keyAuth } from './key-auth/index.js';
import { eventCallbacks } from './event-callbacks/index.js';
import { streamingControl } from './streaming-control/index.js';
import { operations } from './operations/index.js';
import { tracing } from './tracing/index.js';
import { cluster } from './cluster/index.js';

export const builtinPlugins: Record<string, PluginFactory<any>> = {
  [inProcessProvider.pluginName]: inProcessProvider,
  [unixTransport.pluginName]: unixTransport,
  [httpServer.pluginName]: httpServer,
  [httpIngress.pluginName]: httpIngress,
  [streamProxy.pluginName]: streamProxy,
  [keyAuth.pluginName]: keyAuth,
  [eventCallbacks.pluginName]: eventCallbacks,
  [streamingControl.pluginName]: streamingControl,
  [operations.pluginName]: operations,
  [tracing.pluginName]: tracing,
  [cluster.pluginName]: cluster,
};

export { PLUGIN_SETS, type CoordinatorMode } from './builtin-loaders.js';
