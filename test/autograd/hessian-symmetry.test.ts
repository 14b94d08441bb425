// Second derivatives of whole networks: <u, Hv> = <v, Hu> for the cross-entropy loss of a small
// CNN (train-mode and eval-mode batch norm), an hvpcheck of the same network, and an explicit
// Hessian of a tiny MLP built column by column.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn, rand, zeros } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import * as F from '../../src/autograd/index.js';
import { grad, hvp } from '../../src/autograd/graph.js';
import { hessianSymmetryGap, hvpcheck, gradcheck } from '../../src/autograd/gradcheck.js';

const gen = new Generator(99, 'hessian-symmetry');
const p = (scale: number, ...shape: number[]): Tensor => {
  const t = randn(shape, gen, { dtype: 'float64', requiresGrad: true });
  for (let i = 0; i < t.size; i++) t.data[i] = t.data[i]! * scale;
  return t;
};

interface Cnn {
  params: Tensor[];
  names: string[];
  loss: (training: boolean) => Tensor;
}

/**
 * conv(pad 1, bias) -> BN -> relu -> maxpool 2 -> conv(pad 1, bias) -> BN -> relu -> avgpool 3/1 pad 1
 * -> adaptive avg pool 2x2 -> flatten -> linear -> relu... -> linear -> cross-entropy
 */
function makeCnn(): Cnn {
  const x = randn([3, 2, 6, 6], gen, { dtype: 'float64' });
  const labels = [0, 2, 1];
  const w1 = p(0.5, 4, 2, 3, 3), b1 = p(0.1, 4), g1 = p(0.2, 4), be1 = p(0.2, 4);
  const w2 = p(0.3, 3, 4, 3, 3), b2 = p(0.1, 3), g2 = p(0.2, 3), be2 = p(0.2, 3);
  const l1 = p(0.4, 5, 12), lb1 = p(0.1, 5), l2 = p(0.4, 3, 5), lb2 = p(0.1, 3);
  for (const g of [g1, g2]) for (let i = 0; i < g.size; i++) g.data[i] = g.data[i]! + 1;
  const rm1 = rand([4], gen, { dtype: 'float64', low: -0.3, high: 0.3 }), rv1 = rand([4], gen, { dtype: 'float64', low: 0.5, high: 2 });
  const rm2 = rand([3], gen, { dtype: 'float64', low: -0.3, high: 0.3 }), rv2 = rand([3], gen, { dtype: 'float64', low: 0.5, high: 2 });
  const params = [w1, b1, g1, be1, w2, b2, g2, be2, l1, lb1, l2, lb2];
  const names = ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'conv2.bias', 'bn2.weight', 'bn2.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'];
  const loss = (training: boolean): Tensor => {
    // Running statistics are passed only in eval mode, so that repeated train-mode calls (finite
    // differences) all see the same network.
    const bn = (h: Tensor, w: Tensor, b: Tensor, rm: Tensor, rv: Tensor): Tensor =>
      F.batchNorm(h, training ? { training, weight: w, bias: b } : { training, weight: w, bias: b, runningMean: rm, runningVar: rv });
    let h = F.conv2d(x, w1, b1, { padding: 1 });
    h = F.relu(bn(h, g1, be1, rm1, rv1));
    h = F.maxPool2d(h, 2); // 6x6 -> 3x3
    h = F.conv2d(h, w2, b2, { padding: 1 });
    h = F.relu(bn(h, g2, be2, rm2, rv2));
    h = F.avgPool2d(h, 3, { stride: 1, padding: 1, countIncludePad: false }); // 3x3
    h = F.adaptiveAvgPool2d(h, 2); // 3x3 -> 2x2, overlapping windows
    h = F.flatten(h, 1); // 12
    h = F.tanh(F.linear(h, l1, lb1));
    h = F.linear(h, l2, lb2);
    return F.crossEntropy(h, labels);
  };
  return { params, names, loss };
}

function checkSymmetry(label: string, f: () => Tensor, params: Tensor[]): void {
  for (const seed of [0, 1, 2]) {
    const { uHv, vHu } = hessianSymmetryGap(f, params, seed);
    const scale = Math.max(Math.abs(uHv), Math.abs(vHu));
    assert.ok(scale > 1e-6, `${label}: <u, Hv> = ${uHv} is degenerate`);
    assert.ok(Math.abs(uHv - vHu) <= 1e-10 * scale, `${label} seed ${seed}: <u,Hv> = ${uHv}, <v,Hu> = ${vHu}, rel gap ${Math.abs(uHv - vHu) / scale}`);
  }
}

test('small CNN, batch norm in train mode: <u, Hv> = <v, Hu> over all parameters', () => {
  const net = makeCnn();
  checkSymmetry('train', () => net.loss(true), net.params);
});

test('small CNN, batch norm in eval mode: <u, Hv> = <v, Hu> over all parameters', () => {
  const net = makeCnn();
  checkSymmetry('eval', () => net.loss(false), net.params);
});

test('small CNN: symmetry per parameter block pair (the cross terms between layers)', () => {
  const net = makeCnn();
  // <e-block i direction, H (block j direction)> vs the transpose, for a few block pairs.
  const pairs: [number, number][] = [[0, 8], [2, 4], [3, 11], [0, 6]];
  for (const training of [true, false]) {
    for (const [i, j] of pairs) {
      const dirs = (k: number, seed: number): Tensor[] => {
        const g = new Generator(seed, 'blocks');
        return net.params.map((t, m) => (m === k ? randn(t.shape, g, { dtype: 'float64' }) : zeros(t.shape, { dtype: 'float64' })));
      };
      const u = dirs(i, 10 + i), v = dirs(j, 20 + j);
      const f = (): Tensor => net.loss(training);
      const hv = hvp(f, net.params, v), hu = hvp(f, net.params, u);
      let uHv = 0, vHu = 0;
      for (let k = 0; k < hv.length; k++) {
        for (let e = 0; e < hv[k]!.size; e++) {
          uHv += u[k]!.data[e]! * hv[k]!.data[e]!;
          vHu += v[k]!.data[e]! * hu[k]!.data[e]!;
        }
      }
      const scale = Math.max(Math.abs(uHv), Math.abs(vHu));
      assert.ok(scale > 1e-8, `${net.names[i]} x ${net.names[j]} (${training ? 'train' : 'eval'}): degenerate ${uHv}`);
      assert.ok(Math.abs(uHv - vHu) <= 1e-10 * scale, `${net.names[i]} x ${net.names[j]} (${training ? 'train' : 'eval'}): ${uHv} vs ${vHu}`);
    }
  }
});

test('small CNN: gradcheck and hvpcheck against finite differences (train and eval mode)', () => {
  const net = makeCnn();
  for (const training of [true, false]) {
    const f = (..._ps: Tensor[]): Tensor => net.loss(training);
    const g = gradcheck(f, net.params);
    assert.ok(g.ok, `gradcheck (${training ? 'train' : 'eval'}): ${g.worst}`);
    for (const seed of [0, 1]) {
      const h = hvpcheck(f, net.params, { seed });
      assert.ok(h.ok, `hvpcheck (${training ? 'train' : 'eval'}, seed ${seed}): ${h.worst}`);
    }
  }
});

test('tiny MLP: hvp equals the explicit Hessian built column by column', () => {
  const W1 = p(0.8, 3, 2), b1 = p(0.3, 3), W2 = p(0.8, 2, 3), b2 = p(0.3, 2);
  const x = randn([4, 2], gen, { dtype: 'float64' });
  const labels = [0, 1, 1, 0];
  const params = [W1, b1, W2, b2];
  const f = (): Tensor => F.crossEntropy(F.linear(F.tanh(F.linear(x, W1, b1)), W2, b2), labels, { labelSmoothing: 0.1 });
  const sizes = params.map((t) => t.size);
  const n = sizes.reduce((a, b) => a + b, 0);
  const unflat = (vec: Float64Array): Tensor[] => {
    let off = 0;
    return params.map((t) => {
      const out = zeros(t.shape, { dtype: 'float64' });
      out.data.set(vec.subarray(off, off + t.size));
      off += t.size;
      return out;
    });
  };
  const flat = (ts: Tensor[]): Float64Array => {
    const out = new Float64Array(n);
    let off = 0;
    for (const t of ts) { out.set(t.data, off); off += t.size; }
    return out;
  };
  // Row i of H from differentiating the i-th gradient component (an independent path from hvp).
  const gs = grad(f(), params, { createGraph: true });
  const gflat = F.concat(gs.map((g) => F.reshape(g, [-1])));
  const H: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = grad(F.slice(gflat, 0, i, i + 1), params, { retainGraph: true, allowUnused: true });
    H.push(flat(row));
  }
  // Column by column from hvp(e_j), compared with H's column and with central differences of the gradient.
  const eps = 1e-6;
  for (let j = 0; j < n; j++) {
    const e = new Float64Array(n); e[j] = 1;
    const col = flat(hvp(f, params, unflat(e)));
    const shifted = (s: number): Float64Array => {
      const all = flat(params);
      let off = 0;
      for (const t of params) { for (let k = 0; k < t.size; k++) if (off + k === j) t.data[k] = t.data[k]! + s * eps; off += t.size; }
      const g = flat(grad(f(), params));
      off = 0;
      for (const t of params) { t.data.set(all.subarray(off, off + t.size)); off += t.size; }
      return g;
    };
    const gp = shifted(1), gm = shifted(-1);
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(col[i]! - H[i]![j]!) <= 1e-12 * (1 + Math.abs(col[i]!)), `H[${i}][${j}]: hvp ${col[i]} vs row-wise ${H[i]![j]}`);
      const fd = (gp[i]! - gm[i]!) / (2 * eps);
      assert.ok(Math.abs(col[i]! - fd) <= 1e-6 + 1e-5 * Math.abs(fd), `H[${i}][${j}]: hvp ${col[i]} vs finite differences ${fd}`);
    }
  }
  // H is symmetric, and H v equals hvp(v) for a random v.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) {
    assert.ok(Math.abs(H[i]![j]! - H[j]![i]!) <= 1e-12 * (1 + Math.abs(H[i]![j]!)), `H not symmetric at ${i},${j}`);
  }
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = gen.normal();
  const hv = flat(hvp(f, params, unflat(v)));
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += H[i]![j]! * v[j]!;
    assert.ok(Math.abs(hv[i]! - s) <= 1e-12 * (1 + Math.abs(s)), `(Hv)[${i}]: ${hv[i]} vs ${s}`);
  }
  // Sanity: the Hessian is not trivially zero or diagonal.
  let off = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off = Math.max(off, Math.abs(H[i]![j]!));
  assert.ok(off > 1e-3, 'the MLP Hessian has off-diagonal structure');
});
