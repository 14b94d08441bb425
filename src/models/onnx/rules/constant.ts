// Constants: Constant nodes, ConstantOfShape and Range. They become host values, folded at import.

import type { ImportRule } from '../rule.js';
import { HostTensor } from '../value.js';

const constant: ImportRule = {
  domain: '', opType: 'Constant', since: 13,
  run: (_ins, n) => {
    const t = n.tensor('value');
    if (t) return [t];
    if (n.has('value_float')) return [new HostTensor('float', [], Float64Array.of(n.float('value_float', 0)))];
    if (n.has('value_int')) return [HostTensor.ints([n.int('value_int', 0)], [])];
    const fs = n.node.attrs.get('value_floats')?.floats;
    if (fs) return [new HostTensor('float', [fs.length], Float64Array.from(fs))];
    const is = n.ints('value_ints');
    if (is) return [HostTensor.ints(is)];
    throw n.error('no value attribute pai reads (value, value_float(s), value_int(s))');
  },
};

const constantOfShape: ImportRule = {
  domain: '', opType: 'ConstantOfShape', since: 9,
  run: (ins, n) => {
    const shape = n.hostInts(ins, 0, 'input');
    const v = n.tensor('value');
    const size = shape.reduce((p, d) => p * d, 1);
    return [new HostTensor(v?.kind ?? 'float', shape, new Float64Array(size).fill(v?.data[0] ?? 0))];
  },
};

const range: ImportRule = {
  domain: '', opType: 'Range', since: 11,
  run: (ins, n) => {
    const scalar = (k: number, what: string): number => {
      const v = n.hostScalar(ins, k, what, null);
      if (v === null) throw n.error(`${what} is missing`);
      return v;
    };
    const start = scalar(0, 'start'), limit = scalar(1, 'limit'), delta = scalar(2, 'delta');
    if (delta === 0) throw n.error('delta is 0');
    const count = Math.max(Math.ceil((limit - start) / delta), 0);
    const kind = [0, 1, 2].some((k) => (ins[k] as HostTensor).kind === 'float') ? 'float' : 'int';
    return [new HostTensor(kind, [count], Float64Array.from({ length: count }, (_, i) => start + i * delta))];
  },
};

export const RULES: ImportRule[] = [constant, constantOfShape, range];
