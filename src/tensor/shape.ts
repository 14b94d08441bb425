// Shape arithmetic shared by every op. Errors name the op and the shapes, because a shape mismatch
// deep inside a model is otherwise hard to trace back to the layer that caused it.

/** A tensor shape: the size of each axis. */
export type Shape = readonly number[];

/** The sizes of a shape of each rank `shapeN` and `shapeMin` take, as tuples. */
export interface RankSizes { 1: [number]; 2: [number, number]; 3: [number, number, number]; 4: [number, number, number, number] }
/** A rank `shapeN` and `shapeMin` take. */
export type Rank = keyof RankSizes;
/** A shape of rank N, as a tuple. */
export type ShapeN<N extends Rank> = readonly [...RankSizes[N]];
/** A shape of rank N or more, its first N sizes as a tuple. */
export type ShapeMin<N extends Rank> = readonly [...RankSizes[N], ...number[]];

/** Whether `shape` has rank N (narrows it to a tuple of N sizes). */
export function hasRank<N extends Rank>(shape: Shape, rank: N): shape is ShapeN<N> {
  return shape.length === rank;
}

/** Whether `shape` has rank N or more (narrows its first N sizes to a tuple). */
export function hasMinRank<N extends Rank>(shape: Shape, rank: N): shape is ShapeMin<N> {
  return shape.length >= rank;
}

/** `shape` as a tuple of its `rank` sizes, or a ShapeError naming `op` and `what` when its rank differs. */
export function shapeN<N extends Rank>(op: string, shape: Shape, rank: N, what = 'input'): ShapeN<N> {
  if (!hasRank(shape, rank)) throw new ShapeError(`${op}: ${what} must have rank ${rank}, got shape ${shapeStr(shape)}`);
  return shape;
}

/** `shape` with its first `rank` sizes as a tuple, or a ShapeError naming `op` and `what` when it has fewer axes. */
export function shapeMin<N extends Rank>(op: string, shape: Shape, rank: N, what = 'input'): ShapeMin<N> {
  if (!hasMinRank(shape, rank)) throw new ShapeError(`${op}: ${what} must have at least ${rank} ${rank === 1 ? 'axis' : 'axes'}, got shape ${shapeStr(shape)}`);
  return shape;
}

/** The number of elements of a tensor of this shape. */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A shape as text, `[2, 3]`, for messages. */
export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Whether two shapes are equal. */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Row-major (contiguous) strides. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  shape.reduceRight((acc, d, i) => {
    s[i] = acc;
    return acc * d;
  }, 1);
  return s;
}

/** PyTorch/NumPy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalise possibly negative axes against a rank; sorted, distinct. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = new Set<number>();
  for (const a of list) out.add(normAxis(op, a, rank));
  return [...out].sort((x, y) => x - y);
}

/** Turns a possibly negative axis into 0..rank-1, or throws a ShapeError naming `op`. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new ShapeError(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** An op was given tensors whose shapes it cannot take; the message names the op. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** Throws a ShapeError naming `op` unless every size is a non-negative integer. */
export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${op}: invalid shape ${shapeStr(shape)}`);
  }
}
