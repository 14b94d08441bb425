// Finite-difference checks of first and second derivatives in float64, used by pai's own tests and
// available to anyone adding an op. The scalar checked is <u, f(x)> for a fixed random u, which
// exercises every output without forming a Jacobian.

import { Tensor } from '../tensor/tensor.js';
import { at, zip } from '../tensor/checked.js';
import { Generator } from '../tensor/random.js';
import { randn } from '../tensor/create.js';
import { grad, hvp, enableGrad } from './graph.js';
import { mul, sum } from './ops/index.js';

export interface CheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

export interface CheckReport {
  ok: boolean;
  maxAbsErr: number;
  maxRelErr: number;
  worst: string;
}

type Fn = (...xs: Tensor[]) => Tensor;

function scalarize(f: Fn, inputs: Tensor[], u: Tensor | null, gen: Generator): { L: () => Tensor; u: Tensor } {
  const y0 = enableGrad(() => f(...inputs));
  const uu = u ?? randn(y0.shape, gen, { dtype: 'float64' });
  return { L: () => sum(mul(f(...inputs), uu)), u: uu };
}

function compare(label: string, analytic: Float64Array | Float32Array, numeric: number[], atol: number, rtol: number, rep: CheckReport): void {
  numeric.forEach((n, i) => {
    const a = at(analytic, i, 'analytic gradient');
    const err = Math.abs(a - n);
    const rel = err / Math.max(Math.abs(n), 1e-12);
    if (err > rep.maxAbsErr) rep.maxAbsErr = err;
    if (err > atol + rtol * Math.abs(n)) {
      if (rep.ok || rel > rep.maxRelErr) rep.worst = `${label}[${i}]: analytic ${a}, numeric ${n}`;
      rep.ok = false;
      rep.maxRelErr = Math.max(rep.maxRelErr, rel);
    }
  });
}

function checkF64(inputs: Tensor[]): void {
  for (const t of inputs) if (t.dtype !== 'float64') throw new TypeError('gradcheck: inputs must be float64 tensors');
}

/** Compares grad(<u, f(x)>) with central differences. Inputs are float64 and require gradients. */
export function gradcheck(f: Fn, inputs: Tensor[], o: CheckOptions = {}): CheckReport {
  checkF64(inputs);
  const eps = o.eps ?? 1e-6, atol = o.atol ?? 1e-6, rtol = o.rtol ?? 1e-5;
  const gen = new Generator(o.seed ?? 0, 'gradcheck');
  const { L } = scalarize(f, inputs, null, gen);
  const analytic = grad(enableGrad(L), inputs, { allowUnused: true });
  const rep: CheckReport = { ok: true, maxAbsErr: 0, maxRelErr: 0, worst: '' };
  zip(inputs, analytic, 'gradcheck inputs and gradients').forEach(([x, a], k) => {
    const num: number[] = [];
    x.data.forEach((v, i) => {
      x.data[i] = v + eps; const lp = L().item();
      x.data[i] = v - eps; const lm = L().item();
      x.data[i] = v;
      num.push((lp - lm) / (2 * eps));
    });
    compare(`grad input ${k}`, a.data, num, atol, rtol, rep);
  });
  return rep;
}

/**
 * Compares the Hessian-vector product of <u, f(x)> (double backprop) in a random direction with
 * central differences of its gradient.
 */
export function hvpcheck(f: Fn, inputs: Tensor[], o: CheckOptions = {}): CheckReport {
  checkF64(inputs);
  const eps = o.eps ?? 1e-6, atol = o.atol ?? 1e-6, rtol = o.rtol ?? 1e-5;
  const gen = new Generator(o.seed ?? 0, 'hvpcheck');
  const { L } = scalarize(f, inputs, null, gen);
  const v = inputs.map((x) => randn(x.shape, gen, { dtype: 'float64' }));
  const analytic = hvp(L, inputs, v);
  const shifted = (sgn: number): Tensor[] => {
    const saved = inputs.map((x) => x.data.slice());
    for (const [x, d] of zip(inputs, v, 'hvpcheck inputs and directions')) x.data.forEach((xi, i) => { x.data[i] = xi + sgn * eps * at(d.data, i, 'hvpcheck direction'); });
    const g = grad(enableGrad(L), inputs, { allowUnused: true });
    for (const [x, s] of zip(inputs, saved, 'hvpcheck inputs')) x.data.set(s);
    return g;
  };
  const gp = shifted(1), gm = shifted(-1);
  const rep: CheckReport = { ok: true, maxAbsErr: 0, maxRelErr: 0, worst: '' };
  zip(gp, gm, 'hvpcheck gradients').forEach(([p, m], k) => {
    const num = Array.from(p.data, (pi, i) => (pi - at(m.data, i, 'hvpcheck gradient')) / (2 * eps));
    compare(`hvp input ${k}`, at(analytic, k, 'hvpcheck products').data, num, atol, rtol, rep);
  });
  return rep;
}

/** <u, H v> - <v, H u> for the Hessian of the scalar f at inputs: zero for an exact Hessian. */
export function hessianSymmetryGap(f: () => Tensor, params: Tensor[], seed = 0): { uHv: number; vHu: number } {
  const gen = new Generator(seed, 'symmetry');
  const u = params.map((p) => randn(p.shape, gen, { dtype: p.dtype }));
  const v = params.map((p) => randn(p.shape, gen, { dtype: p.dtype }));
  const hv = hvp(f, params, v), hu = hvp(f, params, u);
  const dot = (a: Tensor[], b: Tensor[]): number => zip(a, b, 'hessianSymmetryGap vectors').reduce((s, [t, bt]) => s + sum(mul(t, bt)).item(), 0);
  return { uHv: dot(u, hv), vHu: dot(v, hu) };
}
