// The op table: every op of pai, one entry each (see ../op.ts for what an entry holds), gathered
// from the families that define them beside their public functions. The ONNX exporter, the tests
// and any tool that lists ops read it here; a recorded node or a trace event carries its entry.

import type { OpDef } from '../op.js';
import { BROADCAST_OPS } from './broadcast.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { REDUCE_OPS } from './reduce.js';
import { SHAPE_OPS } from './shape.js';
import { LINALG_OPS } from './linalg.js';
import { CONV_OPS } from './conv.js';
import { POOL_OPS } from './pool.js';
import { NORM_OPS } from './norm.js';
import { ACTIVATION_OPS } from './activation.js';
import { SPARSE_OPS } from './sparse.js';

const FAMILIES = [BROADCAST_OPS, ELEMENTWISE_OPS, REDUCE_OPS, SHAPE_OPS, LINALG_OPS, CONV_OPS, POOL_OPS, NORM_OPS, ACTIVATION_OPS, SPARSE_OPS] as const;

type Families = (typeof FAMILIES)[number];
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** @internal Every op by name (typed per entry; allOps() is the public listing). */
export const OPS: UnionToIntersection<Families> = (() => {
  const all: Record<string, OpDef> = {};
  for (const family of FAMILIES) {
    for (const [name, op] of Object.entries(family)) {
      if (name in all) throw new Error(`op table: ${name} is defined twice`);
      all[name] = op;
    }
  }
  return all as UnionToIntersection<Families>;
})();

/** @internal The name of an op of the table. */
export type OpName = keyof typeof OPS;

/** The entries of the table, in family order. */
export function allOps(): OpDef[] {
  return Object.values(OPS as Record<string, OpDef>);
}
