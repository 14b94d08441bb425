// Runs every compiled *.test.js under dist/test with Node's test runner. Node 20's runner takes no
// glob patterns, and given a directory it would also run the helpers beside the tests.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = find('dist/test', []).filter((f) => filters.length === 0 || filters.some((s) => relative('dist/test', f).includes(s)));
if (files.length === 0) {
  console.error(`no test files under dist/test${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
