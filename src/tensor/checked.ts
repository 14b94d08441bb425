// Checked reads of values that are there by construction: an index inside its array, a map entry
// set earlier, a field one code path always fills. Where `x!` would let an undefined travel on, a
// check turns the broken invariant into an error that names what went missing. The `what` texts are
// constant strings, so a check builds nothing unless it fails. Per-element loops do not call these:
// called with many array types, a shared helper's element read becomes megamorphic in V8 (12x slower,
// measured); such loops read into a local and check it in the loop, which costs nothing.

/** `x` when it is neither undefined nor null; otherwise an error naming `what`. */
export function defined<T>(x: T, what: string): NonNullable<T> {
  if (x === undefined || x === null) throw new Error(`internal: ${what} is missing`);
  return x;
}

/** `a[i]` (i not negative), or an error naming `what` when i is outside the array. */
export function at<T>(a: ArrayLike<T>, i: number, what: string): T {
  const v = a[i];
  if (v === undefined) throw new RangeError(`internal: ${what}: index ${i} is outside [0, ${a.length})`);
  return v;
}

/** The last entry of `a`, or an error naming `what` when it is empty. */
export function last<T>(a: ArrayLike<T>, what: string): T {
  return at(a, a.length - 1, what);
}

/** The pairs (a[i], b[i]) of two arrays of one length, or an error naming `what` when the lengths differ. */
export function zip<A, B>(a: readonly A[], b: readonly B[], what: string): [A, B][] {
  if (a.length !== b.length) throw new RangeError(`internal: ${what}: ${a.length} against ${b.length} entries`);
  return a.map((x, i) => [x, at(b, i, what)]);
}

/** An array whose entries can be written: a plain array or a typed array. */
export interface Writable<T> {
  [i: number]: T;
  readonly length: number;
}

/** Swaps a[i] and a[j], or an error naming `what` when either index is outside the array. */
export function swap<T>(a: Writable<T>, i: number, j: number, what: string): void {
  const x = at(a, i, what), y = at(a, j, what);
  a[i] = y;
  a[j] = x;
}

interface Tuples<T> { 1: readonly [T]; 2: readonly [T, T]; 3: readonly [T, T, T]; 4: readonly [T, T, T, T] }
/** A tuple of N values of T (N from 1 to 4). */
export type Tuple<T, N extends 1 | 2 | 3 | 4> = Tuples<T>[N];

/** Whether `a` has exactly N entries (narrows it to a tuple). */
export function hasLength<T, N extends 1 | 2 | 3 | 4>(a: readonly T[], n: N): a is Tuple<T, N> {
  return a.length === n;
}

/** Whether `a` has an entry (narrows it to a tuple with a first entry). */
export function isNonEmpty<T>(a: readonly T[]): a is readonly [T, ...T[]] {
  return a.length > 0;
}
