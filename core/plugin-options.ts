// A plugin's final options, one way for start and for `coordinator validate`:
// the configured options, the plugin's environment variables over them (when
// the runtime has an environment), the schema (types, defaults), then the
// plugin's own checks.

import type { PluginCheckContext, PluginInstance } from './plugin.js';
import { validateAgainst, type ConfigProblem } from './config/validate.js';

export interface ResolvedPluginOptions {
  options: Record<string, unknown>;
  problems: ConfigProblem[];
}

export function resolvePluginOptions(
  instance: PluginInstance<any>,
  fromConfig: Record<string, unknown> | undefined,
  context: PluginCheckContext,
): ResolvedPluginOptions {
  const { definition } = instance;
  // A shallow copy: options may hold functions or class instances; ajv fills defaults into it.
  const options: Record<string, unknown> = { ...(fromConfig ?? {}), ...(instance.options ?? {}) };
  if (definition.env && Object.keys(context.env).length > 0) {
    for (const [key, value] of Object.entries(definition.env(context.env) as Record<string, unknown>)) if (value !== undefined) options[key] = value;
  }
  const prefix = `plugins.${definition.name}`;
  const problems = definition.optionsSchema ? validateAgainst(definition.optionsSchema, options, prefix) : [];
  if (problems.length === 0 && definition.check) {
    for (const p of definition.check(options, context)) {
      problems.push({ path: p.path ? `${prefix}.${p.path}` : prefix, rule: 'check', message: p.message, ...(p.severity ? { severity: p.severity } : {}) });
    }
  }
  return { options, problems };
}
