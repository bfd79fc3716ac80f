// The option reference (docs/reference.md), rendered from the schemas: the
// core keys and every built-in plugin's options, with their types, defaults,
// limits, environment variables and descriptions. `npm run docs` writes it;
// a test fails when the file is stale.

import { coreConfigSchema } from '../core/config/schema.js';
import { CONFIG_DEFAULTS } from '../core/config/resolve.js';
import { builtinPlugins, PLUGIN_SETS } from '../plugins/builtin.js';
import { ERROR_CATALOG } from '../core/errors.js';

type Schema = Record<string, unknown>;

function typeOf(schema: Schema): string {
  if (Array.isArray(schema.enum)) return [...new Set((schema.enum as unknown[]).map((v) => (typeof v === 'string' ? v.toLowerCase() : v)))].map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in schema) return JSON.stringify(schema.const);
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (branches) return branches.map(typeOf).join(' | ');
  if (schema.type === 'array') {
    const items = (schema.items ?? {}) as Schema;
    return `${typeOf(items) || 'any'}[]`;
  }
  if (typeof schema.type === 'string') return schema.type;
  return schema.type ? (schema.type as string[]).join(' | ') : '';
}

function limits(schema: Schema): string {
  const out: string[] = [];
  if (schema.minimum !== undefined) out.push(`≥ ${String(schema.minimum)}`);
  if (schema.maximum !== undefined) out.push(`≤ ${String(schema.maximum)}`);
  if (schema.minLength !== undefined) out.push(schema.minLength === 1 ? 'non-empty' : `at least ${String(schema.minLength)} characters`);
  if (schema.pattern !== undefined) out.push(`matches \`${String(schema.pattern)}\``);
  if (schema.maxItems !== undefined) out.push(`at most ${String(schema.maxItems)} items`);
  const items = schema.items as Schema | undefined;
  if (items) {
    const inner = limits(items);
    if (inner) out.push(`each ${inner}`);
  }
  return out.join(', ');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(properties: Record<string, Schema>, prefix = '', defaults: Record<string, unknown> = {}): string[] {
  const out: string[] = [];
  for (const [key, schema] of Object.entries(properties)) {
    const name = `${prefix}${key}`;
    const value = 'default' in schema ? schema.default : defaults[key];
    const def = value === undefined ? '—' : `\`${JSON.stringify(value)}\``;
    out.push(`| \`${name}\` | ${cell(typeOf(schema)) || '—'} | ${def} | ${cell(limits(schema)) || '—'} | ${schema.env ? `\`${String(schema.env)}\`` : '—'} | ${cell(String(schema.description ?? '—'))} |`);
    if (schema.type === 'object' && schema.properties) out.push(...rows(schema.properties as Record<string, Schema>, `${name}.`));
  }
  return out;
}

const HEADER = '| key | type | default | limits | variable | meaning |\n|---|---|---|---|---|---|';

export function renderReference(): string {
  let text = `# Option reference

Generated from the schemas (\`npm run docs\`); a test fails when this file is
stale. Environment variables apply where the runtime was given an environment
(\`coordinator start\` passes its own; an embedding app passes one or none) and
override the config file; an empty variable counts as unset. Precedence for
\`coordinator start\`: flags > environment variables > config file > defaults.

## Core keys

${HEADER}
${rows(coreConfigSchema.properties as unknown as Record<string, Schema>, '', CONFIG_DEFAULTS).join('\n')}

## Plugin sets of \`coordinator start\` (a config that lists no plugins)

| mode | plugins |
|---|---|
${Object.entries(PLUGIN_SETS).map(([mode, names]) => `| \`${mode}\` | ${names.join(', ')} |`).join('\n')}

The library (\`createCoordinator()\`) registers no plugin unless \`plugins\` names some.

## Plugins
`;
  for (const [name, factory] of Object.entries(builtinPlugins)) {
    const { definition } = factory;
    text += `\n### \`${name}\`\n\n`;
    if (definition.dependencies?.length) text += `Needs: ${definition.dependencies.map((d) => `\`${d}\``).join(', ')} (listed before it).\n\n`;
    const properties = (definition.optionsSchema?.properties ?? {}) as Record<string, Schema>;
    text += Object.keys(properties).length > 0 ? `${HEADER}\n${rows(properties).join('\n')}\n` : 'Options are given in code (see its README).\n';
  }
  text += `\n## Error codes\n\nSee [errors.md](errors.md): ${Object.keys(ERROR_CATALOG).length} codes.\n`;
  return text;
}
