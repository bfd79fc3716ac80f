// Types from JSON schemas, for task arguments: write the schema once (as
// const) and get its TypeScript type, as json-schema-to-ts or TypeBox do,
// for the subset of JSON Schema that task arguments use.

type Required<S> = S extends { required: readonly (infer R)[] } ? R : never;

type ObjectFrom<P, R> = {
  -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]>;
} & {
  -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]>;
};

/** The TypeScript type a JSON schema describes (declare the schema `as const`). */
export type FromSchema<S> =
  S extends { const: infer C } ? C
  : S extends { enum: readonly (infer E)[] } ? E
  : S extends { anyOf: readonly (infer A)[] } ? FromSchema<A>
  : S extends { type: 'string' } ? string
  : S extends { type: 'number' | 'integer' } ? number
  : S extends { type: 'boolean' } ? boolean
  : S extends { type: 'null' } ? null
  : S extends { type: 'array'; items: infer I } ? Array<FromSchema<I>>
  : S extends { type: 'object'; properties: infer P } ? ObjectFrom<P, Required<S>>
  : S extends { type: 'object' } ? Record<string, unknown>
  : unknown;

/**
 * The tasks an app calls, by name, for typed `runtime.call()`: declare them
 * by declaration merging.
 *
 *     declare module 'coordinator-runtime' {
 *       interface TaskTypes { Add: { args: { a: number; b: number }; result: number } }
 *     }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface TaskTypes {}

export type TaskName = keyof TaskTypes & string;
export type TaskArgs<K extends TaskName> = TaskTypes[K] extends { args: infer A } ? A : unknown;
export type TaskResult<K extends TaskName> = TaskTypes[K] extends { result: infer R } ? R : unknown;
