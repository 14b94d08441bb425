// GraSP as published (`fixed`): g and Hg over the prunable weights only, T = 200, keep the largest
// θ ⊙ Hg. The fixture test/fixtures/grasp-prunable/ is computed independently of pai, in PyTorch, by
// scripts/make-grasp-fixture.py: it rebuilds the paper's ResNet-18 at each golden case's widths, loads
// the golden model.safetensors / warm_model.safetensors and batch.safetensors, checks that GraSP over
// every parameter reproduces the golden grasp_synflow scores (Synaptic-Flow's GraSP), then computes
// GraSP over the prunable weights P (convolution and linear weights minus `linear.weight`) at mask batch
// 1 in eval mode: g = Σ_b ∇_P CE(f(x_b)/200), Hg = ∇_P Σ_b <stop(g), ∇_P CE(f(x_b)/200)>, score
// θ ⊙ Hg / (|Σ_P θ ⊙ Hg| + 1e-10), in float32 (the fixture) and float64 (its noise, in meta.json).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createModel, type Model } from '../../src/models/registry.js';
import { loadStateDictFile } from '../../src/nn/serialize.js';
import { loadTensors } from '../../src/tensor/safetensors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { prunableSet, scoreParameters, type MaskData } from '../../src/prune/index.js';
import { GOLDEN_CASES, GOLDEN_SKIP, assertParityBothPrecisions, goldenFile, goldenMeta, goldenTensors } from '../helpers/golden.js';

const FIXTURE = new URL('../../../test/fixtures/grasp-prunable/', import.meta.url);
interface FixtureMeta { cases: Record<string, { prunable: string[]; float32_vs_float64_max_abs_diff_over_max_abs: { init: number; warm: number } }> }

function build(c: string, weights: string): Model {
  const meta = goldenMeta(c);
  const m = createModel('resnet18', { width: 1 / meta.width_divisor, numClasses: meta.num_classes, inChannels: meta.in_channels });
  loadStateDictFile(m, goldenFile(c, weights));
  return m;
}

function maskData(c: string): MaskData {
  const b = goldenTensors(c, 'batch.safetensors');
  return { x: b.get('x')!, y: Int32Array.from(b.get('y')!.data) };
}

for (const c of GOLDEN_CASES) {
  describe(`GraSP fixed on ${c}: prunable weights only`, { skip: GOLDEN_SKIP }, () => {
    const meta = GOLDEN_SKIP ? null : (JSON.parse(readFileSync(new URL('meta.json', FIXTURE), 'utf8')) as FixtureMeta).cases[c]!;
    for (const [tag, weights] of [['init', 'model.safetensors'], ['warm', 'warm_model.safetensors']] as const) {
      test(`${tag}: matches the independent PyTorch computation; non-prunable parameters score 0`, (t) => {
        const all = loadTensors(new URL(`${c}.safetensors`, FIXTURE).pathname);
        const want = new Map<string, Tensor>();
        for (const [k, v] of all) if (k.startsWith(`scores_${tag}/`)) want.set(k.slice(`scores_${tag}/`.length), v);
        assertParityBothPrecisions(t, () => build(c, weights), maskData(c), (model, data) => {
          const prunable = prunableSet(model);
          assert.deepEqual([...prunable], meta!.prunable, 'the fixture was computed over pai\'s fixed prunable set');
          assert.deepEqual([...want.keys()], [...prunable]);
          const got = scoreParameters(model, 'grasp', data, {});
          for (const [name, s] of got) if (!prunable.has(name)) assert.ok(s.data.every((v) => v === 0), `${name} is not prunable and must score 0`);
          // The comparison is over the prunable set: the fixture has those tensors only.
          return new Map([...got].filter(([name]) => prunable.has(name)));
        }, want, meta!.float32_vs_float64_max_abs_diff_over_max_abs[tag], `grasp fixed ${c} ${tag}`);
      });
    }

    test('differs from GraSP over every parameter (the old fixed behaviour)', () => {
      const model = build(c, 'model.safetensors');
      const own = scoreParameters(model, 'grasp', maskData(c), {});
      const every = scoreParameters(model, 'grasp', maskData(c), { prunable: model.namedParameters().map(([n]) => n) });
      const name = 'layer1.0.conv1.weight';
      const a = own.get(name)!.data, b = every.get(name)!.data;
      let diff = 0, scale = 0;
      for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
      assert.ok(diff > 1e-3 * scale, `${name}: the prunable-only scores equal the every-parameter ones (${diff} vs ${scale})`);
    });
  });
}
