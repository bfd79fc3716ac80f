// Domain events published on the onEvent hook. Plugins add their own types;
// the `type` string is namespaced by the plugin that emits it.

export interface CoordinatorEvent<T extends string = string, D = Record<string, unknown>> {
  /** e.g. 'stream.available', 'stream.closed', 'provider.up', 'request.timeout'. */
  type: T;
  /** When the event happened (ms since epoch). */
  at: number;
  data: D;
}

export function makeEvent<T extends string, D>(type: T, data: D): CoordinatorEvent<T, D> {
  return { type, at: Date.now(), data };
}
