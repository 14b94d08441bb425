// The Taylor criteria's two forms: `paper` |θ·ḡ + ½θ²·d| (the released code, the default) and
// `removal` |−θ·ḡ + ½θ²·d|, the second-order change of the loss when the weight is set to zero.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../src/models/registry.js';
import { Generator } from '../../src/tensor/random.js';
import { randn } from '../../src/tensor/create.js';
import { scoreParameters, type MaskData } from '../../src/prune/index.js';

function setup(): { model: ReturnType<typeof createModel>; data: MaskData } {
  const g = new Generator(2, 'taylor-form');
  return { model: createModel('lenet5', { seed: 3 }), data: { x: randn([4, 1, 28, 28], g), y: Int32Array.from([0, 1, 2, 3]) } };
}

test('fts, hts and ggn_ts: the removal form flips the sign of the first-order term only', () => {
  const { model, data } = setup();
  const theta = new Map(model.namedParameters());
  for (const [crit, diag, grad] of [['fts', 'fisher_diag', 'grad_norm'], ['ggn_ts', 'ggn_diag', null], ['hts', 'hutch_diag', null]] as const) {
    const o = { seed: 1, ...(crit === 'hts' ? { probes: 2 } : {}) };
    const paper = scoreParameters(model, crit, data, o);
    const removal = scoreParameters(model, crit, data, { ...o, taylorForm: 'removal' });
    const d = scoreParameters(model, diag, data, o);
    let differ = 0;
    for (const [name, p] of theta) {
      const P = paper.get(name)!.data, R = removal.get(name)!.data, D = d.get(name)!.data;
      for (let i = 0; i < p.size; i++) {
        const t = p.data[i]!, second = (t * t * D[i]!) / 2;
        // From the two forms: θ·ḡ = ±P − second and ±R = −θ·ḡ + second; both must agree on one θ·ḡ.
        const firsts = [P[i]! - second, -P[i]! - second].flatMap((a) => [R[i]! - second, -R[i]! - second].map((b) => Math.abs(a + b)));
        assert.ok(Math.min(...firsts) <= 1e-4 * (Math.abs(P[i]!) + Math.abs(R[i]!) + Math.abs(second)) + 1e-12, `${crit} ${name}[${i}]: paper ${P[i]}, removal ${R[i]}, ½θ²d ${second}`);
        if (Math.abs(P[i]! - R[i]!) > 1e-3 * Math.abs(P[i]!)) differ++;
      }
    }
    assert.ok(differ > 0, `${crit}: the two forms gave the same scores`);
    if (grad) {
      // fts against its definition with the mean gradient: |−θ ḡ + ½ θ² F|.
      const g = scoreParameters(model, 'grad_norm', data, {});
      const name = 'conv1.weight', p = theta.get(name)!;
      const R = removal.get(name)!.data, D = d.get(name)!.data, G = g.get(name)!.data;
      let maxR = 0;
      for (let i = 0; i < R.length; i++) maxR = Math.max(maxR, Math.abs(R[i]!));
      for (let i = 0; i < p.size; i++) {
        const t = p.data[i]!;
        const want = [Math.abs(-t * G[i]! + (t * t * D[i]!) / 2), Math.abs(t * G[i]! + (t * t * D[i]!) / 2)];
        // ḡ is a mean of per-sample gradients that cancel, summed in another order by grad_norm: the
        // parity rule's form, 1e-4 relative plus 1e-5 of the tensor's largest score.
        assert.ok(want.some((w) => Math.abs(R[i]! - w) <= 1e-4 * w + 1e-5 * maxR), `${name}[${i}]: ${R[i]} vs ${want}`);
      }
    }
  }
});
