// diag(GGN) = diag(H) only where the network is piecewise linear in each weight. The check that
// decides it, the warning the GGN criteria give outside it, and a ViT block where the two diagonals
// differ: its exact Hessian diagonal, from float64 Hessian-vector products with unit vectors on a
// sample of entries, against ggn_diag at the same entries.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../src/models/registry.js';
import { hvp } from '../../src/autograd/graph.js';
import { crossEntropy, mulScalar, sliceAxes } from '../../src/autograd/ops/index.js';
import { Generator } from '../../src/tensor/random.js';
import { randn, zerosLike } from '../../src/tensor/create.js';
import { checkPiecewiseLinear } from '../../src/prune/piecewise-linear.js';
import { scoreParameters, type MaskData } from '../../src/prune/index.js';
import type { Module } from '../../src/nn/module.js';

function data(n: number, shape: number[], classes: number, dtype: 'float32' | 'float64' = 'float64'): MaskData {
  const g = new Generator(4, 'ggn-condition');
  return { x: randn([n, ...shape], g, { dtype }), y: Int32Array.from({ length: n }, (_, i) => i % classes) };
}

/** Exact (1/N) Σ_b (H_b)_ii at the given (tensor, index) entries, T as the criteria use it. */
function exactHessianDiagonal(model: Module, d: MaskData, T: number, entries: [number, number][]): number[] {
  const params = model.parameters();
  const n = d.x.shape[0]!;
  return entries.map(([k, i]) => {
    const v = params.map((p) => zerosLike(p));
    v[k]!.data[i] = 1;
    let acc = 0;
    for (let b = 0; b < n; b++) {
      const xb = sliceAxes(d.x, d.x.shape.map((_, a) => (a === 0 ? [b, b + 1] : null)));
      const hv = hvp(() => crossEntropy(mulScalar(model.forward(xb), 1 / T), d.y.subarray(b, b + 1)), params, v);
      acc += hv[k]!.data[i]!;
    }
    return acc / n;
  });
}

describe('where the Gauss-Newton diagonal is the Hessian diagonal', () => {
  test('the check: ReLU CNNs and MLPs in eval mode hold; a ViT does not, naming GELU, LayerNorm and softmax', () => {
    for (const [name, o, shape] of [['resnet20', { width: 0.25 }, [3, 32, 32]], ['vgg11', { width: 0.125 }, [3, 32, 32]], ['resnet18', { width: 0.125 }, [3, 32, 32]], ['lenet5', {}, [1, 28, 28]], ['mlp', {}, [1, 28, 28]]] as const) {
      const c = checkPiecewiseLinear(createModel(name, o), shape);
      assert.deepEqual(c, { holds: true, offending: [] }, name);
    }
    const vit = checkPiecewiseLinear(createModel('vit_tiny_patch4_32', { depth: 1, dim: 16, numHeads: 2 }), [3, 32, 32]);
    assert.equal(vit.holds, false);
    for (const op of ['gelu', 'layerNorm', 'softmax']) assert.ok(vit.offending.includes(op), `${op} in ${vit.offending.join(', ')}`);
  });

  test('ggn_diag warns once on a ViT and not on a ReLU CNN', () => {
    const notes: string[] = [];
    const vit = createModel('vit_tiny_patch4_32', { depth: 1, dim: 8, numHeads: 2, imageSize: 8, numClasses: 3, seed: 1 });
    scoreParameters(vit, 'ggn_diag', data(2, [3, 8, 8], 3, 'float32'), { note: (m) => notes.push(m) });
    const said = notes.filter((m) => /piecewise linear/.test(m));
    assert.equal(said.length, 1, notes.join('\n'));
    assert.match(said[0]!, /ggn_diag: this model is not piecewise linear in each weight \(.*gelu.*\).*not its Hessian diagonal/);
    const cnn: string[] = [];
    scoreParameters(createModel('resnet20', { width: 0.25, seed: 1 }), 'ggn_ts', data(2, [3, 32, 32], 10, 'float32'), { note: (m) => cnn.push(m) });
    assert.deepEqual(cnn.filter((m) => /piecewise linear/.test(m)), []);
  });

  test('on a ViT block the exact Hessian diagonal and ggn_diag differ; on a ReLU MLP they agree', () => {
    const T = 200;
    const cases = [
      { name: 'vit', model: createModel('vit_tiny_patch4_32', { depth: 1, dim: 8, numHeads: 2, imageSize: 8, numClasses: 3, seed: 1 }).to('float64'), d: data(3, [3, 8, 8], 3) },
      { name: 'mlp', model: createModel('mlp', { seed: 1, imageSize: 8 }).to('float64'), d: data(3, [1, 8, 8], 10) },
    ];
    const rel: Record<string, number> = {};
    for (const { name, model, d } of cases) {
      model.eval();
      const ggn = scoreParameters(model, 'ggn_diag', d, { note: () => {} });
      const names = model.namedParameters().map(([n]) => n);
      // 40 entries drawn over every tensor of at least 2 dimensions (the weights).
      const g = new Generator(9, 'entries');
      const weights = model.parameters().map((p, k) => [p, k] as const).filter(([p]) => p.ndim >= 2);
      const entries: [number, number][] = Array.from({ length: 40 }, () => {
        const [p, k] = weights[Math.floor(g.uniform() * weights.length)]!;
        return [k, Math.floor(g.uniform() * p.size)];
      });
      const exact = exactHessianDiagonal(model, d, T, entries);
      const approx = entries.map(([k, i]) => ggn.get(names[k]!)!.data[i]!);
      const num = Math.sqrt(exact.reduce((s, e, j) => s + (e - approx[j]!) ** 2, 0));
      const den = Math.sqrt(exact.reduce((s, e) => s + e * e, 0));
      rel[name] = num / den;
    }
    process.stdout.write(`# relative L2 difference of ggn_diag from the exact Hessian diagonal on 40 entries: ViT ${rel['vit']!.toExponential(3)}, ReLU MLP ${rel['mlp']!.toExponential(3)}\n`);
    assert.ok(rel['mlp']! < 1e-8, `ReLU MLP: the two diagonals must agree (${rel['mlp']})`);
    assert.ok(rel['vit']! > 1e-2, `ViT: the two diagonals should differ (${rel['vit']})`);
  });
});
