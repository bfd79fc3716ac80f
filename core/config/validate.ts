// ajv validation with messages that name the path and the rule:
//   config.externalPort must be <= 65535 (maximum)

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CoordinatorError } from '../errors.js';

export interface ConfigProblem {
  /** e.g. 'config.externalPort' or 'plugins.unix-transport.maxFrameBytes'. */
  path: string;
  /** The schema keyword that failed: 'maximum', 'type', 'additionalProperties', … */
  rule: string;
  message: string;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
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
    case 'additionalProperties':
      path = `${path}.${String(params.additionalProperty)}`;
      message = `${path} is not a known option`;
      break;
    case 'required':
      path = `${path}.${String(params.missingProperty)}`;
      message = `${path} is required`;
      break;
    case 'enum':
      message = `${path} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    default:
      message = `${path} ${error.message ?? 'is invalid'}`;
  }
  return { path, rule: error.keyword, message: `${message} (${error.keyword})` };
}

/** Validate `data` in place (defaults applied); return every problem found. */
export function validateAgainst(schema: object, data: unknown, prefix: string): ConfigProblem[] {
  const validate = compile(schema);
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => describe(prefix, e));
}

export function configError(problems: ConfigProblem[], source?: string): CoordinatorError {
  const where = source ? ` in ${source}` : '';
  const list = problems.map((p) => `  - ${p.message}`).join('\n');
  return new CoordinatorError('ERR_CONFIG', `invalid configuration${where}:\n${list}`, { details: { problems } });
}
