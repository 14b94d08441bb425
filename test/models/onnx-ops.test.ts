// Import rules one by one on small written graphs: pai's forward must agree with onnxruntime (the
// ONNX reference runtime) on the op's semantics, and its first and second derivatives with finite
// differences in float64, through the composed activations too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '../../src/autograd/index.js';
import { gradcheck, hvpcheck } from '../../src/autograd/gradcheck.js';
import { importOnnx } from '../../src/models/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { GraphBuilder, ortRun } from './onnx-graph.js';

const INT_MAX = Number.MAX_SAFE_INTEGER;
const C = 4, S = 6;

interface Case {
  name: string;
  opset?: number;
  /** Adds nodes from `y` ([N, 4, 6, 6], a convolution of the input) and returns the last value. */
  build(b: GraphBuilder, y: string): string;
  /** Skip the finite-difference checks (ops with kinks too close to the random points). */
  noDerivatives?: boolean;
}

const vals = (n: number, seed: number, scale = 0.5): Float32Array => Float32Array.from(randn([n], new Generator(seed, 'w')).data, (v) => v * scale);

const CASES: Case[] = [
  { name: 'LeakyRelu', build: (b, y) => b.node('LeakyRelu', [y], ['a'], { alpha: { float: 0.1 } }) },
  { name: 'Clip (ReLU6) with bounds as inputs', build: (b, y) => b.node('Clip', [b.node('Mul', [y, b.floats('four', [], [4])], ['m']), b.floats('lo', [], [0]), b.floats('hi', [], [6])], ['a']) },
  { name: 'Clip with only a max', build: (b, y) => b.node('Clip', [y, '', b.floats('hi', [], [0.2])], ['a']) },
  { name: 'HardSigmoid and HardSwish', opset: 14, build: (b, y) => b.node('HardSwish', [b.node('HardSigmoid', [b.node('Mul', [y, b.floats('k', [], [3])], ['m'])], ['h'], { alpha: { float: 0.3 }, beta: { float: 0.4 } })], ['a']) },
  { name: 'Sigmoid, Tanh, Erf', build: (b, y) => b.node('Erf', [b.node('Tanh', [b.node('Sigmoid', [y], ['s'])], ['t'])], ['a']) },
  { name: 'Softmax and LogSoftmax', build: (b, y) => b.node('LogSoftmax', [b.node('Softmax', [y], ['s'], { axis: 1 })], ['a'], { axis: -1 }) },
  { name: 'Pow, Sqrt, Div, Sub, Neg, Abs, Exp, Log, Reciprocal', build: (b, y) => {
    const one = b.floats('one', [], [1]);
    const r = b.node('Sqrt', [b.node('Add', [b.node('Pow', [y, b.floats('two', [], [2])], ['p']), one], ['q'])], ['r']);
    const l = b.node('Log', [b.node('Add', [b.node('Abs', [y], ['ab']), one], ['l1'])], ['l']);
    const e = b.node('Exp', [b.node('Neg', [y], ['ng'])], ['e']);
    return b.node('Sub', [b.node('Div', [r, b.node('Add', [e, one], ['e1'])], ['d']), b.node('Reciprocal', [b.node('Add', [l, one], ['l2'])], ['rc'])], ['a']);
  } },
  { name: 'Max and Min with constants', build: (b, y) => b.node('Min', [b.node('Max', [y, b.floats('lo', [1], [-0.1])], ['mx']), b.floats('hi', [C, 1, 1], [0.3, 0.2, 0.5, 0.1])], ['a']) },
  { name: 'Split and Concat', build: (b, y) => {
    b.node('Split', [y, b.ints('sizes', [1, 3])], ['p0', 'p1'], { axis: 1 });
    return b.node('Concat', ['p1', 'p0'], ['a'], { axis: 1 });
  } },
  { name: 'Split at opset 18 (num_outputs, uneven)', opset: 18, build: (b, y) => {
    b.node('Split', [y], ['p0', 'p1'], { axis: 2, num_outputs: 2 });
    return b.node('Mul', ['p0', 'p1'], ['a']);
  } },
  { name: 'Slice with steps and negative axes', build: (b, y) => b.node('Slice', [y, b.ints('st', [0, 1]), b.ints('en', [INT_MAX, -1]), b.ints('ax', [2, -1]), b.ints('sp', [2, 1])], ['a']) },
  { name: 'Slice backwards', build: (b, y) => b.node('Slice', [y, b.ints('st', [-1]), b.ints('en', [-INT_MAX]), b.ints('ax', [1]), b.ints('sp', [-1])], ['a']) },
  { name: 'Gather with negative and repeated indices', build: (b, y) => b.node('Gather', [y, b.ints('idx', [3, -1, 0, 0], [2, 2])], ['a'], { axis: 1 }) },
  { name: 'Pad with a constant', build: (b, y) => b.node('Pad', [y, b.ints('pads', [0, 1, 2, 0, 0, 0, 1, 3]), b.floats('v', [], [0.5])], ['a']) },
  { name: 'Pad at opset 18 with axes', opset: 18, build: (b, y) => b.node('Pad', [y, b.ints('pads', [1, 0, 2, 1]), '', b.ints('axes', [2, 3])], ['a']) },
  { name: 'Transpose and Reshape with 0 and -1', build: (b, y) => b.node('Reshape', [b.node('Transpose', [y], ['t'], { perm: [0, 2, 3, 1] }), b.ints('shape', [0, -1, 8])], ['a']) },
  { name: 'Unsqueeze, Squeeze, Expand', build: (b, y) => {
    const back = b.node('Squeeze', [b.node('Unsqueeze', [y, b.ints('ax', [0, 3])], ['u']), b.ints('sq', [0, 3])], ['s']);
    return b.node('Expand', [b.node('Unsqueeze', [back, b.ints('ax2', [2])], ['u2']), b.ints('sh', [1, 1, 3, 1, 1])], ['a']);
  } },
  { name: 'ReduceMean (axes attribute), ReduceSum, ReduceMax', build: (b, y) => b.node('Add', [b.node('ReduceMean', [y], ['m'], { axes: [2, 3], keepdims: 0 }), b.node('ReduceSum', [b.node('ReduceMax', [y], ['mx'], { axes: [3], keepdims: 0 }), b.ints('ax', [-1])], ['s'], { keepdims: 0 })], ['a']) },
  { name: 'ReduceMean at opset 18 (axes input)', opset: 18, build: (b, y) => b.node('ReduceMean', [y, b.ints('ax', [1])], ['a'], { keepdims: 1 }) },
  { name: 'MaxPool with asymmetric pads', build: (b, y) => b.node('MaxPool', [y], ['a'], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 1, 1] }) },
  { name: 'MaxPool with ceil_mode and dilation', build: (b, y) => b.node('MaxPool', [y], ['a'], { kernel_shape: [2, 2], strides: [2, 2], dilations: [2, 1], ceil_mode: 1 }) },
  { name: 'AveragePool counting pads, and without', build: (b, y) => b.node('Add', [b.node('AveragePool', [y], ['p1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }), b.node('AveragePool', [y], ['p2'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })], ['a']) },
  { name: 'Conv with SAME_UPPER, stride 2, groups', build: (b, y) => b.node('Conv', [y, b.floats('w2', [4, 2, 3, 3], vals(72, 3))], ['a'], { auto_pad: 'SAME_UPPER', strides: [2, 2], group: 2 }) },
  { name: 'Gemm with transA, alpha, beta and a matrix C; MatMul', build: (b, y) => {
    const f = b.node('Flatten', [y], ['f'], { axis: 1 });
    const g = b.node('Gemm', [b.node('Transpose', [f], ['ft'], { perm: [1, 0] }), b.floats('B', [C * S * S, 5], vals(C * S * S * 5, 4, 0.1)), b.floats('Cm', [1, 5], [0.1, 0.2, 0.3, 0.4, 0.5])], ['g'], { transA: 1, alpha: { float: 0.5 }, beta: { float: 2 } });
    return b.node('MatMul', [g, b.floats('W', [5, 3], vals(15, 5))], ['a']);
  } },
  { name: 'LayerNormalization over two axes', opset: 17, build: (b, y) => b.node('LayerNormalization', [y, b.floats('g', [S, S], vals(S * S, 6)), b.floats('bb', [S, S], vals(S * S, 7))], ['a'], { axis: 2, epsilon: { float: 1e-3 } }) },
  { name: 'BatchNormalization (eval), Dropout, Identity', build: (b, y) => {
    const bn = b.node('BatchNormalization', [y, b.floats('s', [C], [1, 0.5, 2, 1]), b.floats('bi', [C], [0, 0.1, -0.1, 0.2]), b.floats('mu', [C], [0.1, 0, -0.2, 0.05]), b.floats('var', [C], [1, 0.5, 2, 0.7])], ['bn']);
    return b.node('Identity', [b.node('Dropout', [bn, b.floats('ratio', [], [0.5])], ['d'])], ['a']);
  } },
  { name: 'Shape arithmetic: Shape, Gather, Cast, Div, Mul, Unsqueeze, Concat, ConstantOfShape, Equal, Where, Range', build: (b, y) => {
    // [N, 4, 6, 6] -> [N, 2, 72] with every size computed from the tensor's own shape.
    const sh = b.node('Shape', [y], ['sh']);
    const n = b.node('Gather', [sh, b.ints('i0', [0], [])], ['n']);
    const c = b.node('Cast', [b.node('Div', [b.node('Gather', [sh, b.ints('i1', [1], [])], ['c']), b.ints('two', [2], [])], ['ch'])], ['chi'], { to: 7 });
    const rest = b.node('Mul', [b.node('Gather', [sh, b.ints('i2', [2], [])], ['h']), b.ints('twelve', [12], [])], ['hw']);
    const target = b.node('Concat', [b.node('Unsqueeze', [n, b.ints('u0', [0])], ['nu']), b.node('Unsqueeze', [c, b.ints('u1', [0])], ['cu']), b.node('Unsqueeze', [rest, b.ints('u2', [0])], ['ru'])], ['tgt'], { axis: 0 });
    const r = b.node('Reshape', [y, target], ['r']);
    // Expand's -1 handling as PyTorch writes it: Where(Equal(shape, -1), ones, shape).
    const spec = b.ints('spec', [-1, -1, 72]);
    const ones = b.node('ConstantOfShape', [b.ints('three', [3])], ['ones'], { value: { int64Tensor: [1] } });
    const fixed = b.node('Where', [b.node('Equal', [spec, b.node('Mul', [b.node('Cast', [ones], ['onesi'], { to: 7 }), b.ints('m1', [-1], [])], ['neg'])], ['eq']), b.node('Cast', [ones], ['onesi2'], { to: 7 }), spec], ['fixed']);
    const range = b.node('Cast', [b.node('Range', [b.floats('r0', [], [0]), b.floats('r1', [], [72]), b.floats('r2', [], [1])], ['rg'])], ['rgf'], { to: 1 });
    return b.node('Add', [b.node('Expand', [r, fixed], ['ex']), b.node('Mul', [range, b.floats('tiny', [], [0.01])], ['rs'])], ['a']);
  } },
];

function graph(c: Case): GraphBuilder {
  const b = new GraphBuilder();
  const y = b.node('Conv', ['input', b.floats('conv.weight', [C, 3, 3, 3], vals(C * 27, 1)), b.floats('conv.bias', [C], [0.1, -0.1, 0.2, 0])], ['y'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  b.node('Flatten', [c.build(b, y)], ['logits'], { axis: 1 });
  return b;
}

const dir = mkdtempSync(join(tmpdir(), 'pai-onnx-ops-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

for (const [k, c] of CASES.entries()) {
  const opset = c.opset ?? 13;
  test(`ONNX op import: ${c.name} (opset ${opset}) agrees with onnxruntime, derivatives exact`, async () => {
    const file = join(dir, `case${k}.onnx`);
    const bytes = graph(c).write(file, opset, [3, S, S]);
    const model = importOnnx(file).eval();
    const x = randn([3, 3, S, S], new Generator(k, 'x'));
    const got = noGrad(() => model.forward(x));
    const want = await ortRun(bytes, x);
    assert.deepEqual([...got.shape], [...want.dims]);
    let scale = 0, worst = 0;
    for (let i = 0; i < got.size; i++) scale = Math.max(scale, Math.abs(want.data[i]!));
    for (let i = 0; i < got.size; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want.data[i]!) - 1e-5 * Math.abs(want.data[i]!));
    assert.ok(worst <= 1e-5 * Math.max(1, scale), `max excess over tolerance ${worst}`);
    if (c.noDerivatives) return;
    model.to('float64');
    const x64 = randn([2, 3, S, S], new Generator(k + 100, 'x'), { dtype: 'float64' }).requireGrad();
    const w = model.namedParameters().find(([n]) => n === 'conv.weight')![1];
    const g = gradcheck((xx, ww) => { void ww; return model.forward(xx); }, [x64, w]);
    assert.ok(g.ok, `gradient: ${g.worst}`);
    const h = hvpcheck((xx, ww) => { void ww; return model.forward(xx); }, [x64, w]);
    assert.ok(h.ok, `hvp: ${h.worst}`);
  });
}
