// No import circle among the source files: every static import or re-export under src/ (type-only
// ones included) is an edge, and the graph must have no cycle. A circle would make a module's
// exports undefined while the modules of the circle load, and it blurs the layering (DESIGN.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// This file runs from dist/test/architecture; the sources are at the package root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const src = join(root, 'src');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// `import ... from '...'`, `import '...'` and `export ... from '...'`, over several lines too.
const STATIC = /^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?\s*['"]([^'"]+)['"]/gm;

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(STATIC)) {
      const spec = m[1]!;
      if (!spec.startsWith('.')) continue;
      deps.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
    graph.set(file, deps);
  }
  return graph;
}

/** One cycle of the graph as a list of files (first = last), or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): string[] | null => {
    state.set(f, 'open');
    path.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'open') return [...path.slice(path.indexOf(d)), d];
      if (!state.has(d) && graph.has(d)) {
        const c = visit(d);
        if (c) return c;
      }
    }
    path.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of graph.keys()) {
    if (state.has(f)) continue;
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

test('the import graph of src/ has no circle', () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `found only ${graph.size} source files under ${src}`);
  const missing = [...graph].flatMap(([f, ds]) => ds.filter((d) => !graph.has(d)).map((d) => `${relative(root, f)} -> ${relative(root, d)}`));
  assert.deepEqual(missing, [], 'every relative import resolves to a source file');
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import circle: ${cycle?.map((f) => relative(root, f)).join(' -> ')}`);
});

test('the cycle finder finds a circle', () => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(findCycle(g), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle(new Map([['a', ['b']], ['b', []]])), null);
});
