// Shared pieces of the parser fuzz tests: byte-level mutations as fast-check arbitraries (so a
// failure shrinks to a small list of edits) and the one property every parser must hold: it
// either returns, or throws its own error class with a one-line message that names the file.

import fc from 'fast-check';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Fixed seeds make a failure reproducible from the log alone. PAI_FUZZ_SCALE multiplies every
 * run count, for a longer soak than CI affords (PAI_FUZZ_SEED changes the seed for the same reason).
 */
export const FUZZ_SEED = Number(process.env['PAI_FUZZ_SEED'] ?? 20250211);
const SCALE = Number(process.env['PAI_FUZZ_SCALE'] ?? 1);

export function runs(n: number): number {
  return Math.max(1, Math.round(n * (Number.isFinite(SCALE) && SCALE > 0 ? SCALE : 1)));
}

export function fuzzParams(numRuns: number, seedOffset = 0): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED + seedOffset, numRuns: runs(numRuns), includeErrorInReport: true };
}

/** Positions are drawn as plain naturals and reduced modulo the length, so they shrink toward 0. */
export type ByteMutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'int'; at: number; width: 1 | 2 | 4; value: number; bigEndian: boolean };

// Values that sit on the edges of signed and unsigned ranges, where length arithmetic breaks.
const EDGE_INTS = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('int' as const), at: fc.nat(), width: fc.constantFrom(1 as const, 2 as const, 4 as const),
      value: fc.constantFrom(...EDGE_INTS), bigEndian: fc.boolean(),
    }),
    weight: 2,
  },
);

export const byteMutations = (maxLength = 4): fc.Arbitrary<ByteMutation[]> => fc.array(byteMutation, { minLength: 1, maxLength });

/** `limit` confines positions to the first bytes (a header); 0 means the whole buffer. */
export function mutate(base: Uint8Array, muts: readonly ByteMutation[], limit = 0): Uint8Array {
  let b = Uint8Array.from(base);
  for (const m of muts) {
    const span = limit > 0 ? Math.min(limit, b.length) : b.length;
    switch (m.kind) {
      case 'flip':
        if (span > 0) b[m.at % span]! ^= 1 << m.bit;
        break;
      case 'set':
        if (span > 0) b[m.at % span] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, m.at % (span + 1));
        break;
      case 'insert': {
        const at = m.at % (span + 1);
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, at));
        out.set(m.bytes, at);
        out.set(b.subarray(at), at + m.bytes.length);
        b = out;
        break;
      }
      case 'delete': {
        if (span === 0) break;
        const at = m.at % span;
        const out = new Uint8Array(b.length - Math.min(m.len, b.length - at));
        out.set(b.subarray(0, at));
        out.set(b.subarray(at + m.len), at);
        b = out;
        break;
      }
      case 'int': {
        if (span < m.width) break;
        const at = m.at % (span - m.width + 1);
        const v = m.value % 2 ** (8 * m.width);
        for (let k = 0; k < m.width; k++) {
          const byte = Math.floor(v / 2 ** (8 * k)) & 0xff;
          b[m.bigEndian ? at + m.width - 1 - k : at + k] = byte;
        }
        break;
      }
    }
  }
  return b;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** Longest a single parse may take: a case slower than this is a hang or a pathological allocation. */
const CASE_LIMIT_MS = 2000;

export interface Tally { ok: number; refused: number }

export function tally(): Tally {
  return { ok: 0, refused: 0 };
}

/**
 * Runs one parse. Success is fine (many mutations are harmless); a throw must be one of `allowed`,
 * mention `file`, and fit on one line. Anything else fails the property with the original error
 * attached, so fast-check's report shows what really went wrong.
 */
export function expectClean<T>(run: () => T, allowed: readonly ErrorClass[], file: string, t?: Tally): T | undefined {
  const t0 = performance.now();
  let result: T | undefined;
  try {
    result = run();
    if (t) t.ok++;
  } catch (e) {
    if (!allowed.some((c) => e instanceof c)) {
      const name = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
      const want = allowed.length ? allowed.map((c) => c.name).join(' or ') : 'no error';
      throw new Error(`expected ${want}, got ${name}`, { cause: e });
    }
    const msg = (e as Error).message;
    if (!msg.includes(file)) throw new Error(`error does not name the file ${file}: ${msg}`, { cause: e });
    if (msg.includes('\n')) throw new Error(`error message spans several lines: ${JSON.stringify(msg)}`, { cause: e });
    if (t) t.refused++;
  }
  const ms = performance.now() - t0;
  if (ms > CASE_LIMIT_MS) throw new Error(`one parse took ${ms.toFixed(0)} ms (limit ${CASE_LIMIT_MS} ms)`);
  return result;
}

// The fuzzers write thousands of small files; a disk-backed /tmp costs milliseconds per write
// there, a memory-backed /dev/shm microseconds.
function fastTmp(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return statSync('/dev/shm').isDirectory() ? '/dev/shm' : tmpdir();
  } catch {
    return tmpdir();
  }
}

export function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(join(fastTmp(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Both outcomes must occur, or the fuzzer is not reaching the parser's interesting paths. */
export function checkCoverage(label: string, t: Tally): void {
  if (t.ok === 0 || t.refused === 0) throw new Error(`${label}: ${t.ok} accepted and ${t.refused} refused; the mutations miss one outcome entirely`);
}
