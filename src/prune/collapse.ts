// Layer-collapse diagnostics. A mask can leave a layer with no weights (density 0), and a network
// whose every input-to-output path crosses a fully pruned layer computes a constant. The path
// check runs the masked network with non-negative stand-in weights (mask / fan-in), neutral
// normalisation and zero biases, in float64, on an all-ones input: with nothing negative there is no
// cancellation, so the output depends on the input exactly when some path survives.

import { ones } from '../tensor/create.js';
import { defined } from '../tensor/checked.js';
import { shapeMin } from '../tensor/shape.js';
import { grad } from '../autograd/graph.js';
import { sum } from '../autograd/ops/index.js';
import type { Module } from '../nn/module.js';
import type { Masks } from './types.js';

/** The kept and total values of one prunable tensor. */
export interface LayerDensity { name: string; kept: number; total: number; density: number }

/** Per-layer densities, fully pruned tensors, and whether a path from input to output survives. */
export interface CollapseReport {
  layers: LayerDensity[];
  kept: number;
  total: number;
  /** Prunable tensors with no weight left. */
  emptyLayers: string[];
  /** False when no input-to-output path survives (null when the check was not run). */
  connected: boolean | null;
}

/** The density of each prunable tensor under the masks. */
export function layerDensities(masks: Masks, prunable: ReadonlySet<string>): LayerDensity[] {
  const out: LayerDensity[] = [];
  for (const [name, m] of masks) {
    if (!prunable.has(name)) continue;
    let kept = 0;
    for (let i = 0; i < m.size; i++) if (m.data[i] !== 0) kept++;
    out.push({ name, kept, total: m.size, density: m.size ? kept / m.size : 0 });
  }
  return out;
}

/** Whether some input-to-output path survives the masks (see the file comment). */
export function pathSurvives(model: Module, masks: Masks, inputShape: readonly number[]): boolean {
  // The originals are put back as the same objects, so optimisers and callers holding them see no change.
  const originals = [...model.namedParameters(), ...model.namedBuffers()];
  const wasTraining = model.training;
  model.to('float64');
  try {
    for (const [name, p] of model.namedParameters()) {
      const m = masks.get(name);
      const d = p.data;
      if (p.ndim >= 2) {
        const fanIn = p.size / shapeMin('pathSurvives', p.shape, 1, name)[0];
        for (let i = 0; i < d.length; i++) d[i] = (m && m.data[i] === 0 ? 0 : 1) / fanIn;
      } else if (name.endsWith('bias')) {
        d.fill(0);
      } else {
        // Norm scales (prunable in the paper's reference rule) keep their mask.
        for (let i = 0; i < d.length; i++) d[i] = m && m.data[i] === 0 ? 0 : 1;
      }
    }
    for (const [name, b] of model.namedBuffers()) {
      if (name.endsWith('running_mean')) b.data.fill(0);
      else if (name.endsWith('running_var')) b.data.fill(1);
    }
    model.eval();
    const x = ones([1, ...inputShape], { dtype: 'float64', requiresGrad: true });
    const out = model.forward(x);
    const g = defined(grad(sum(out), [x], { allowUnused: true })[0], 'gradient of the input');
    let any = false;
    for (let i = 0; i < g.size && !any; i++) if (g.data[i] !== 0) any = true;
    return any;
  } finally {
    for (const [name, t] of originals) model.setTensor(name, t);
    model.train(wasTraining);
  }
}

/** Densities, emptied tensors and (given the model) whether the masked network still connects input to output. */
export function collapseReport(model: Module | null, masks: Masks, prunable: ReadonlySet<string>, inputShape?: readonly number[]): CollapseReport {
  const layers = layerDensities(masks, prunable);
  const kept = layers.reduce((s, l) => s + l.kept, 0), total = layers.reduce((s, l) => s + l.total, 0);
  const connected = model && inputShape ? pathSurvives(model, masks, inputShape) : null;
  return { layers, kept, total, emptyLayers: layers.filter((l) => l.kept === 0).map((l) => l.name), connected };
}

/** A plain-text table of per-layer densities, for logs and reports. */
export function formatDensityTable(r: CollapseReport): string {
  const w = Math.max(5, ...r.layers.map((l) => l.name.length));
  const lines = [`${'layer'.padEnd(w)}  ${'kept'.padStart(10)}  ${'total'.padStart(10)}  density`];
  for (const l of r.layers) lines.push(`${l.name.padEnd(w)}  ${String(l.kept).padStart(10)}  ${String(l.total).padStart(10)}  ${(100 * l.density).toFixed(3).padStart(7)}%`);
  lines.push(`${'all prunable'.padEnd(w)}  ${String(r.kept).padStart(10)}  ${String(r.total).padStart(10)}  ${(100 * (r.total ? r.kept / r.total : 0)).toFixed(3).padStart(7)}%`);
  if (r.emptyLayers.length) lines.push(`fully pruned: ${r.emptyLayers.join(', ')}`);
  if (r.connected === false) lines.push('COLLAPSED: no input-to-output path survives the mask');
  return lines.join('\n');
}
