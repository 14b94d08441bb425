// The import rules by (domain, op type, since_version). A graph's opset resolves each op to the
// newest rule at or below it, as ONNX defines versioning; an op without one is refused in one line
// that names the node, the op and the supported list.

import type { ImportRule } from './rule.js';
import { OnnxImportError } from './value.js';
import { RULES as ELEMENTWISE } from './rules/elementwise.js';
import { RULES as ACTIVATION } from './rules/activation.js';
import { RULES as LINALG } from './rules/linalg.js';
import { RULES as CONV } from './rules/conv.js';
import { RULES as POOL } from './rules/pool.js';
import { RULES as NORM } from './rules/norm.js';
import { RULES as REDUCE } from './rules/reduce.js';
import { RULES as SHAPE } from './rules/shape.js';
import { RULES as CONSTANT } from './rules/constant.js';

const key = (domain: string, opType: string): string => `${domain === 'ai.onnx' ? '' : domain}::${opType}`;

const TABLE = new Map<string, ImportRule[]>();
for (const r of [...ELEMENTWISE, ...ACTIVATION, ...LINALG, ...CONV, ...POOL, ...NORM, ...REDUCE, ...SHAPE, ...CONSTANT]) {
  const k = key(r.domain, r.opType);
  const list = TABLE.get(k) ?? [];
  if (list.some((x) => x.since === r.since)) throw new Error(`ONNX import rule ${r.opType} since ${r.since} is registered twice`);
  list.push(r);
  list.sort((a, b) => b.since - a.since);
  TABLE.set(k, list);
}

/** The rule for an op at a graph's opset, or undefined. */
export function findRule(domain: string, opType: string, opset: number): ImportRule | undefined {
  return TABLE.get(key(domain, opType))?.find((r) => r.since <= opset);
}

/** Every importable op type (default domain), sorted. */
export function supportedOnnxOps(): string[] {
  return [...new Set([...TABLE.values()].flat().map((r) => r.opType))].sort();
}

export function resolveRule(domain: string, opType: string, opset: number, where: string): ImportRule {
  const r = findRule(domain, opType, opset);
  if (r) return r;
  const versions = TABLE.get(key(domain, opType))?.map((x) => x.since);
  const op = `${domain && domain !== 'ai.onnx' ? `${domain}.` : ''}${opType}`;
  throw new OnnxImportError(versions
    ? `${where}: op ${op} at opset ${opset} is not supported (pai has it from opset ${Math.min(...versions)})`
    : `${where}: op ${op} is not supported; pai imports: ${supportedOnnxOps().join(', ')}`);
}
