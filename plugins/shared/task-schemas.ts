// Task argument schemas, checked with ajv before a request is dispatched
// (in-process tasks, and tasks declared for unix providers): a request whose
// args do not fit is refused with ERR_BAD_REQUEST naming the field.

import { Ajv } from 'ajv';
import { CoordinatorError } from '../../core/errors.js';

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });

export type ArgsValidator = (args: unknown, requestId: string) => void;

export function argsValidator(task: string, schema: unknown): ArgsValidator {
  const validate = ajv.compile(schema as object);
  return (args, requestId) => {
    if (validate(args)) return;
    const problems = (validate.errors ?? []).slice(0, 5).map((e) => `args${e.instancePath.replace(/\//g, '.')} ${e.message ?? 'is invalid'}`);
    throw new CoordinatorError('ERR_BAD_REQUEST', `${task}: ${problems.join('; ')}`, { requestId, details: { task, problems } });
  };
}
