// Environment variables of the original servers override the config file
// (the streaming coordinator was configured by env alone). Helpers that read
// them with the original's fallbacks.

export type Env = Record<string, string | undefined>;

/** Set only the keys whose variable is present (an empty variable counts: it means "unset" in the original). */
export function overlay<T extends object>(base: T, values: Partial<Record<keyof T, unknown>>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(values)) if (value !== undefined) out[key] = value;
  return out as T;
}

/** An integer variable; a value that is not an integer falls back, as the original did. */
export function intVar(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  return /^[+-]?\d+$/.test(raw.trim()) ? Number.parseInt(raw.trim(), 10) : undefined;
}
