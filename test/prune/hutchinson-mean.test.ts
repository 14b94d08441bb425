// The Hutchinson estimator's mean, made observable. On the golden fixtures the exact diagonal D is
// about 1/600 of the 10-probe estimator's standard deviation, so z-score tests there see only its
// variance: an estimator whose mean is 0, or −D, passes them. Here a one-hidden-layer network with a
// smooth activation at T = 1, in float64, has a Hessian whose diagonal is large against the
// off-diagonal terms that make the estimator's noise. Its exact diagonal comes from Hessian-vector
// products with unit vectors; the exact per-entry standard deviation of the estimator from the
// per-sample Hessians (the variance of z_i (H z)_i over Rademacher z is Σ_{j≠i} H_ij²). With enough
// probes the error bound is a small fraction of |D|, and the test asserts both that pai's estimate
// sits within a few standard errors of D and that the same check rejects −D and 0.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { GELU, Linear, Sequential } from '../../src/nn/layers.js';
import { hvp } from '../../src/autograd/graph.js';
import { crossEntropy, sliceAxes } from '../../src/autograd/ops/index.js';
import { Generator } from '../../src/tensor/random.js';
import { randn, zerosLike } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { scoreParameters, type MaskData } from '../../src/prune/index.js';

const N = 24, IN = 4, HIDDEN = 5, CLASSES = 3;

function setup(): { model: Sequential; data: MaskData } {
  const gen = new Generator(3, 'hutchinson-mean');
  const model = new Sequential(new Linear(IN, HIDDEN, { gen }), new GELU(), new Linear(HIDDEN, CLASSES, { gen })).to('float64');
  model.eval();
  const x = randn([N, IN], gen, { dtype: 'float64' });
  return { model, data: { x, y: Int32Array.from({ length: N }, (_, i) => i % CLASSES) } };
}

/** The full Hessian of sample b's loss, row by row from HVPs with unit vectors (flat parameter order). */
function sampleHessian(model: Sequential, data: MaskData, b: number): Float64Array[] {
  const params = model.parameters();
  const xb = sliceAxes(data.x, [[b, b + 1], null]);
  const loss = (): Tensor => crossEntropy(model.forward(xb), data.y.subarray(b, b + 1));
  const rows: Float64Array[] = [];
  params.forEach((p, k) => {
    for (let i = 0; i < p.size; i++) {
      const v = params.map((q) => zerosLike(q));
      v[k]!.data[i] = 1;
      const hv = hvp(loss, params, v);
      rows.push(Float64Array.from(hv.flatMap((t) => Array.from(t.data))));
    }
  });
  return rows;
}

describe('Hutchinson: the estimate converges to the exact Hessian diagonal, not to 0 or −D', () => {
  test('hutch_diag with many probes on a smooth one-hidden-layer network, T = 1, float64', () => {
    const { model, data } = setup();
    const H = Array.from({ length: N }, (_, b) => sampleHessian(model, data, b));
    const P = H[0]!.length;
    // D = (1/N) Σ_b diag(H_b); per-probe, per-sample variance Σ_{j≠i} (H_b)_ij².
    const D = new Float64Array(P), offSq = new Float64Array(P);
    for (const Hb of H) {
      for (let i = 0; i < P; i++) {
        D[i]! += Hb[i]![i]! / N;
        for (let j = 0; j < P; j++) if (j !== i) offSq[i]! += Hb[i]![j]! ** 2;
      }
    }
    const K = 2000;
    // Std of the mean over N samples and K probes: sqrt(Σ_b Σ_{j≠i} H_ij² / (K N²)).
    const std = Array.from(offSq, (v) => Math.sqrt(v / (K * N * N)));
    const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((acc, v) => acc + v * v, 0));
    // E‖h − D‖² = ‖std‖²: the relative error the estimator should show.
    const predicted = norm(std) / norm(D);
    // The test has power only if that is a small fraction of |D|.
    assert.ok(predicted < 0.05, `predicted relative error ${predicted}: too few probes for the mean to be observable`);

    const h = scoreParameters(model, 'hutch_diag', data, { temperature: 1, probes: K, seed: 7 });
    const est = Float64Array.from([...h.values()].flatMap((t) => Array.from(t.data)));
    assert.equal(est.length, P);

    /**
     * Is `target` the estimator's mean? The relative L2 error within 3x its predicted size, and the
     * z-scores (est − target) / std standard: mean within 4/√P of 0, mean square within [0.4, 2]
     * (for P = 43 standard normals the mean square has sd √(2/P) ≈ 0.22).
     */
    const consistent = (target: ArrayLike<number>): { ok: boolean; why: string } => {
      const rel = norm(Array.from(est, (v, i) => v - target[i]!)) / norm(D);
      const z = Array.from(est, (v, i) => (v - target[i]!) / std[i]!);
      const zMean = z.reduce((a, v) => a + v, 0) / P, zSq = z.reduce((a, v) => a + v * v, 0) / P;
      const ok = rel < 3 * predicted && Math.abs(zMean) < 4 / Math.sqrt(P) && zSq > 0.4 && zSq < 2;
      return { ok, why: `relative error ${rel.toExponential(3)} (predicted ${predicted.toExponential(3)}), z mean ${zMean.toFixed(3)}, z mean square ${zSq.toFixed(3)}` };
    };
    const atD = consistent(D);
    assert.ok(atD.ok, `pai's estimate does not converge to the exact diagonal: ${atD.why}`);
    // The same check rejects an estimator centred on −D or on 0.
    const atMinusD = consistent(Array.from(D, (v) => -v));
    assert.ok(!atMinusD.ok, `the check cannot tell −D from D: ${atMinusD.why}`);
    const atZero = consistent(new Float64Array(P));
    assert.ok(!atZero.ok, `the check cannot tell 0 from D: ${atZero.why}`);
    process.stdout.write(`# ${P} parameters, K = ${K}, ${N} samples: at D ${atD.why}; at −D ${atMinusD.why}; at 0 ${atZero.why}\n`);
  });
});
