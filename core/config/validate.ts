// ajv validation with messages that name the path and the rule:
//   config.externalPort must be <= 65535 (maximum)

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CoordinatorError } from '../errors.js';
import { didYouMean } from './suggest.js';

export interface ConfigProblem {
  /** e.g. 'config.externalPort' or 'plugins.unix-transport.maxFrameBytes'. */
  path: string;
  /** The schema keyword that failed: 'maximum', 'type', 'additionalProperties', …, or 'check', 'plugin'. */
  rule: string;
  /** What is wrong, without the path (printed as `<path>: <message>`). */
  message: string;
  /** 'error' (default): start refuses the config; 'warning': it starts, but look. */
  severity?: 'error' | 'warning';
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true, verbose: true });
const cache = new WeakMap<object, ValidateFunction>();

function compile(schema: object): ValidateFunction {
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    cache.set(schema, validate);
  }
  return validate;
}

function jsonPointerToPath(prefix: string, pointer: string): string {
  if (!pointer) return prefix;
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts.reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : `${acc}.${part}`), prefix);
}

function describe(prefix: string, error: ErrorObject): ConfigProblem {
  let path = jsonPointerToPath(prefix, error.instancePath);
  const params = error.params as Record<string, unknown>;
  let message: string;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      path = `${path}.${key}`;
      const known = Object.keys((error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
      message = `is not a known option${didYouMean(key, known)}`;
      break;
    }
    case 'required':
      path = `${path}.${String(params.missingProperty)}`;
      message = 'is required';
      break;
    case 'enum':
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'anyOf':
    case 'oneOf':
      message = 'matches none of the allowed forms';
      break;
    default:
      message = error.message ?? 'is invalid';
  }
  return { path, rule: error.keyword, message };
}

/** `<path>: <message> [rule: <rule>]`, as the CLI prints a problem. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.path}: ${problem.message} [rule: ${problem.rule}]`;
}

/** One line per problem: ajv can report the same path and text more than once (anyOf branches). */
function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Validate `data` in place (defaults applied); return every problem found. */
export function validateAgainst(schema: object, data: unknown, prefix: string): ConfigProblem[] {
  const validate = compile(schema);
  if (validate(data)) return [];
  return dedupe((validate.errors ?? []).map((e) => describe(prefix, e)));
}

export function configError(problems: ConfigProblem[], source?: string): CoordinatorError {
  const where = source ? ` in ${source}` : '';
  const list = problems.map((p) => `  - ${formatProblem(p)}`).join('\n');
  return new CoordinatorError('ERR_CONFIG', `invalid configuration${where}:\n${list}`, { details: { problems } });
}
