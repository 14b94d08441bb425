// Checking what callers pass: option objects of the public functions and experiment configs are
// validated with zod schemas, and every problem is reported as one line that names the field at
// fault and what was given, instead of an `undefined` error from deep inside pai.

import { z } from 'zod';
import { Generator } from './random.js';
import { Tensor } from './tensor.js';

/** A public function was called with a missing, mistyped or unknown option. */
export class OptionsError extends TypeError {
  override name = 'OptionsError';
}

/** `a.b[2].c`, or "(top level)" for the object itself. */
export function pathString(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s === '' ? '(top level)' : s;
}

/** A short description of a value for messages: `number 3`, `string "x"`, `an object`, ... */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Tensor) return `a Tensor [${v.shape.join(', ')}]`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') return v.constructor && v.constructor !== Object ? `a ${v.constructor.name}` : 'an object';
  if (typeof v === 'bigint') return `bigint ${v}n`;
  if (typeof v === 'symbol' || v === undefined) return String(v);
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The value at `path` in the input as written (zod's issues do not carry it). */
function valueAt(raw: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || !(p in v)) return { found: false, value: undefined };
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return { found: true, value: v };
}

/** One zod issue as `field: what is wrong, got what`. `prefix` is prepended to the field's path. */
export function issueMessage(i: z.core.$ZodIssue, raw: unknown, prefix: readonly PropertyKey[] = []): string {
  const path = [...prefix, ...i.path];
  const where = pathString(path);
  const at = valueAt(raw, i.path);
  switch (i.code) {
    case 'unrecognized_keys':
      return i.keys.map((k) => `${where === '(top level)' ? k : `${where}.${k}`}: unknown key`).join('; ');
    case 'invalid_type':
      if (!at.found || at.value === undefined) return `${where}: required`;
      // A schema's own message ("must be a positive integer") says more than the type it expected.
      if (!i.message.startsWith('Invalid input')) return `${where}: ${i.message}, got ${describeValue(at.value)}`;
      return `${where}: expected ${i.expected}, got ${describeValue(at.value)}`;
    case 'invalid_value':
      return `${where}: must be ${i.values.length === 1 ? JSON.stringify(i.values[0]) : `one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}`}, got ${describeValue(at.value)}`;
    case 'invalid_union':
      // Discriminated unions report at the discriminator, which may be missing.
      if (i.path[i.path.length - 1] === 'name' && !at.found) return `${where}: required (${i.message.replace(/^name /, '')})`;
      return `${where}: ${i.message.replace(/^name /, '')}${at.found ? `, got ${describeValue(at.value)}` : ''}`;
    default:
      if (i.code === 'custom' && (!at.found || at.value === undefined)) return `${where}: required (${i.message})`;
      return `${where}: ${i.message}${at.found ? `, got ${describeValue(at.value)}` : ''}`;
  }
}

/** Every issue of a failed parse as one `; `-separated line. */
export function issuesMessage(error: z.ZodError, raw: unknown, prefix: readonly PropertyKey[] = [], root?: string): string {
  // With `root`, `raw` is { [root]: value } and the issues' paths are relative to that value.
  return [...new Set(error.issues.map((i) => (root === undefined ? issueMessage(i, raw, prefix) : issueMessage({ ...i, path: [root, ...i.path] }, raw, prefix))))].join('; ');
}

/**
 * Checks the option object `value` of the public function `fn` against `schema` and returns it
 * unchanged; on a mismatch throws an OptionsError such as
 * `maskSubset: options.gen: expected a Generator (new Generator(seed)), got undefined`.
 */
export function checkOptions<T>(fn: string, schema: z.ZodType, value: unknown, name = 'options'): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionsError(`${fn}: ${name} must be an object, got ${describeValue(value)}`);
  }
  const r = schema.safeParse(value);
  if (!r.success) throw new OptionsError(`${fn}: ${issuesMessage(r.error, value, [name])}`);
  return value as T;
}

/** Checks one positional argument of `fn`. */
export function checkArgument<T>(fn: string, name: string, schema: z.ZodType, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new OptionsError(`${fn}: ${issuesMessage(r.error, { [name]: value }, [], name)}`);
  return value as T;
}

/** Schemas for the values pai's option objects hold. */
export const is = {
  positiveInt: z.number().int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' }),
  nonNegativeInt: z.number().int({ error: 'must be a non-negative integer' }).nonnegative({ error: 'must be a non-negative integer' }),
  positive: z.number().positive({ error: 'must be a positive number' }).finite({ error: 'must be a positive number' }),
  fraction: z.number().min(0, { error: 'must lie in [0, 1]' }).max(1, { error: 'must lie in [0, 1]' }),
  generator: z.custom<Generator>((v) => v instanceof Generator, { message: 'expected a Generator (new Generator(seed))' }),
  tensor: z.custom<Tensor>((v) => v instanceof Tensor, { message: 'expected a Tensor' }),
  func: z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { message: 'expected a function' }),
  int32Array: z.custom<Int32Array>((v) => v instanceof Int32Array, { message: 'expected an Int32Array' }),
  /** A Map from parameter name to tensor (scores, masks). */
  tensorMap: z.custom<ReadonlyMap<string, Tensor>>((v) => v instanceof Map && [...v].every(([k, t]) => typeof k === 'string' && t instanceof Tensor),
    { message: 'expected a Map from parameter name to Tensor' }),
  stringSet: z.custom<ReadonlySet<string>>((v) => v instanceof Set && [...v].every((k) => typeof k === 'string'), { message: 'expected a Set of parameter names' }),
  iterable: z.custom<Iterable<unknown>>((v) => v !== null && typeof v === 'object' && typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function',
    { message: 'expected an iterable' }),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: 'expected an AbortSignal' }),
};
