// Environment variables of the original servers (the streaming coordinator
// was configured by env alone): helpers that read them with the original's
// fallbacks. Plugins declare theirs with `env()`; the runtime applies them.

export type Env = Record<string, string | undefined>;

/** An integer variable; a value that is not an integer falls back, as the original did. */
export function intVar(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  return /^[+-]?\d+$/.test(raw.trim()) ? Number.parseInt(raw.trim(), 10) : undefined;
}
