import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { completedIds, mergeStores, readRow, readStore, rowPath, rowsDir, signRow, StoreError, writeRow } from '../../src/experiment/store.js';
import { studyOf, syntheticRow, tempDir } from './helpers.js';

test('a row is written whole: a crash before the rename leaves no row', () => {
  const store = tempDir();
  const study = studyOf();
  const row = syntheticRow(study, study.runs[0]!);
  assert.throws(() => writeRow(store, row, { beforeRename: () => { throw new Error('simulated crash'); } }), /simulated crash/);
  // The temporary file is there (as after a real crash), but no row.
  const left = readdirSync(rowsDir(store));
  assert.equal(left.length, 1);
  assert.match(left[0]!, /^\.tmp-/);
  assert.equal(existsSync(rowPath(store, row.id)), false);
  assert.equal(readRow(store, row.id), null);
  assert.deepEqual(readStore(store), { rows: [], problems: [] });
  assert.equal(completedIds(store).size, 0);
  // A partially written temporary file never counts either.
  writeFileSync(join(rowsDir(store), `.tmp-${row.id}.json.123.abcd`), JSON.stringify(row).slice(0, 50));
  assert.deepEqual(readStore(store).rows, []);
  // Writing it for real works and round-trips.
  writeRow(store, row);
  const back = readStore(store);
  assert.equal(back.problems.length, 0);
  assert.deepEqual(back.rows, [row]);
  assert.deepEqual(readRow(store, row.id), row);
});

test('corrupt rows are reported, not counted', () => {
  const store = tempDir();
  const study = studyOf();
  const [a, b, c, d] = study.runs.slice(0, 4).map((r) => syntheticRow(study, r));
  for (const r of [a, b, c, d]) writeRow(store, r!);
  // Truncated (torn) file, a hand edit that breaks the checksum, a row under another id's name.
  const pa = rowPath(store, a!.id);
  writeFileSync(pa, readFileSync(pa, 'utf8').slice(0, 80));
  const pb = rowPath(store, b!.id);
  writeFileSync(pb, readFileSync(pb, 'utf8').replace(/"bestTestTop1": [0-9.]+/, '"bestTestTop1": 0.99'));
  writeFileSync(rowPath(store, c!.id), JSON.stringify(d));
  const { rows, problems } = readStore(store);
  assert.deepEqual(rows.map((r) => r.id), [d!.id]);
  assert.equal(problems.length, 3);
  const why = new Map(problems.map((p) => [p.file, p.reason]));
  assert.match(why.get(pa)!, /not valid JSON/);
  assert.match(why.get(pb)!, /checksum mismatch/);
  assert.match(why.get(rowPath(store, c!.id))!, /does not match the file name/);
  assert.equal(typeof readRow(store, b!.id), 'string');
  assert.deepEqual(completedIds(store), new Set([d!.id]));
  assert.throws(() => readStore(join(store, 'nope')), StoreError);
});

test('merge unions stores; identical duplicates are kept once, conflicts name the id', () => {
  const study = studyOf();
  const rows = study.runs.map((r) => syntheticRow(study, r));
  const s1 = tempDir(), s2 = tempDir(), out = join(tempDir(), 'merged');
  rows.slice(0, 14).forEach((r) => writeRow(s1, r));
  // Overlap 10..13, written by another "machine" with other timings: the same result.
  rows.slice(10).forEach((r, i) => writeRow(s2, i < 4 ? signRow({ ...r, timing: { ...r.timing, trainSeconds: 99 }, finishedAt: '2026-02-02T00:00:00.000Z' }) : r));
  const m = mergeStores([s1, s2], out);
  assert.equal(m.rows, rows.length);
  assert.equal(m.added, rows.length);
  assert.equal(m.duplicates, 4);
  assert.deepEqual(readStore(out).rows.map((r) => r.id).sort(), rows.map((r) => r.id).sort());
  // Merging again into the same output adds nothing.
  assert.equal(mergeStores([s1, s2], out).added, 0);

  // A conflicting result for one id: error naming it, and nothing written.
  const s3 = tempDir(), out2 = join(tempDir(), 'merged2');
  const bad = signRow({ ...rows[3]!, bestTestTop1: 0.123 });
  writeRow(s3, bad);
  assert.throws(() => mergeStores([s1, s3], out2), new RegExp(`run ${rows[3]!.id} has different results`));
  assert.equal(existsSync(out2), false);

  // Unusable rows of an input are skipped and reported.
  const s4 = tempDir();
  mkdirSync(rowsDir(s4), { recursive: true });
  writeFileSync(join(rowsDir(s4), 'deadbeefdeadbeef.json'), '{"format": "pai-result/1"');
  const m4 = mergeStores([s4, s1], join(tempDir(), 'm4'));
  assert.equal(m4.rows, 14);
  assert.equal(m4.problems.length, 1);
});
