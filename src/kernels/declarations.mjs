// The one declaration of pai's kernel seam. scripts/gen-kernels.mjs derives from it the
// TypeScript kernel interface and op-code lists (src/kernels/seam.gen.ts), the native addon's
// declarations and its adapter (src/kernels/native/addon.gen.ts), and the Node-API wrappers,
// argument records and op-code enums of the addon (native/seam.gen.h). A kernel declared here and
// not implemented by a backend fails the TypeScript build (src/kernels/js/index.ts) or the native
// build (native/addon.cc defines each kernel's body, k_<name>). Kernel semantics: interface.ts.
//
// Argument kinds: in / out (a float buffer read / written; `?` = may be null), idx / idxOut (an
// Int32Array read / written), state (a Uint32Array of 4 words), num (a number), int (a
// non-negative integer), shape / strides (integer arrays, strides may be negative), unary / binary
// / reduce (an op of that list, passed to native code as its index), csr (a CsrPattern, passed to
// native code as rowPtr and colIdx), and the parameter records conv, sparseConv (Conv2dParams with
// groups 1), pool, adaptive, matmul, linear (SparseLinearParams).

/** The element-wise op lists; their order is the native op codes. */
export const OP_LISTS = {
  unary: {
    type: 'UnaryOp', prefix: 'U',
    doc: 'Element-wise unary functions. `step` is 1 where x > 0 else 0 (the derivative of relu).',
    ops: ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'step', 'tanh', 'sigmoid', 'erf', 'square', 'reciprocal'],
  },
  binary: {
    type: 'BinaryOp', prefix: 'B',
    doc: 'Element-wise binary functions with NumPy/PyTorch broadcasting. Comparisons give 1 or 0.',
    ops: ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'gt', 'ge', 'lt', 'le', 'eq', 'ne'],
  },
  reduce: {
    type: 'ReduceOp', prefix: 'R',
    doc: 'Reductions over axes.',
    ops: ['sum', 'max', 'min'],
  },
};

/** Every kernel: its name, its arguments (name:kind, in call order) and its doc. */
export const KERNELS = [
  { name: 'unary', args: ['op:unary', 'x:in', 'out:out'], doc: 'out = op(x), element-wise.' },
  { name: 'affine', args: ['x:in', 'scale:num', 'shift:num', 'out:out'], doc: 'out = x * scale + shift element-wise (scale, shift scalars).' },
  { name: 'powScalar', args: ['x:in', 'p:num', 'out:out'], doc: 'out = x ** p element-wise for a scalar exponent.' },
  {
    name: 'binary', args: ['op:binary', 'a:in', 'aShape:shape', 'b:in', 'bShape:shape', 'out:out', 'outShape:shape'],
    doc: "Shapes are the operands' own; each broadcasts to outShape (same rank after left-padding with 1).",
  },
  {
    name: 'where', args: ['cond:in', 'condShape:shape', 'a:in', 'aShape:shape', 'b:in', 'bShape:shape', 'out:out', 'outShape:shape'],
    doc: 'out = cond != 0 ? a : b, all three broadcasting to outShape.',
  },
  {
    name: 'reduce', args: ['op:reduce', 'x:in', 'shape:shape', 'axes:shape', 'out:out'],
    doc: 'Reduce x (shape `shape`) over the sorted, distinct `axes`; out holds the remaining axes in order\n(the size of out is the product of the kept dimensions). An empty reduction gives 0 for sum.',
  },
  {
    name: 'copyStrided', args: ['src:in', 'srcOffset:int', 'srcStrides:strides', 'shape:shape', 'dst:out', 'dstOffset:int', 'dstStrides:strides'],
    doc: 'General strided copy: for every index i of `shape`,\ndst[dstOffset + Σ i_d dstStrides_d] = src[srcOffset + Σ i_d srcStrides_d]. Strides may be 0\n(broadcast reads). Used for expand, permute, slice, pad and concat.',
  },
  { name: 'gather', args: ['x:in', 'idx:idx', 'out:out'], doc: 'out[i] = x[idx[i]].' },
  { name: 'scatterAdd', args: ['g:in', 'idx:idx', 'out:out'], doc: 'out[idx[i]] += g[i]; the caller zero-fills out.' },
  { name: 'matmul', args: ['a:in', 'b:in', 'out:out', 'p:matmul'], doc: 'Batched matrix product (see MatmulParams).' },
  {
    name: 'channelMoments', args: ['x:in', 'n:int', 'c:int', 'inner:int', 'mean:out', 'variance:out'],
    doc: 'mean[c] and the biased variance variance[c] of x over the n and inner axes.',
    group: 'Per-channel kernels for normalisation layers. Each views its operands as [n, c, inner] (NCHW\nwith inner = H W, or [N, C] with inner = 1) and its per-channel vectors as [c]. They replace the\nchains of broadcasting element-wise passes that batch norm otherwise costs; sums accumulate in\nfloat64 as `reduce` does.',
  },
  {
    name: 'channelAffine', args: ['x:in', 'm:in?', 'a:in', 'd:in?', 'out:out', 'n:int', 'c:int', 'inner:int'],
    doc: 'out = (x - m[c]) a[c] + d[c]; a null m or d counts as zeros.',
  },
  {
    name: 'channelGradSums', args: ['g:in', 'x:in', 'm:in', 'n:int', 'c:int', 'inner:int', 'sg:out', 'sgx:out'],
    doc: 'sg[c] = Σ g and sgx[c] = Σ g (x - m[c]) over the n and inner axes.',
  },
  {
    name: 'channelAffineGrad', args: ['g:in', 'x:in', 'm:in', 'a:in', 'b:in', 'd:in', 'out:out', 'n:int', 'c:int', 'inner:int'],
    doc: 'out = g a[c] + (x - m[c]) b[c] + d[c].',
  },
  { name: 'conv2d', args: ['x:in', 'w:in', 'bias:in?', 'out:out', 'p:conv'], doc: 'out = conv2d(x, w) (+ bias[oc] when given).' },
  {
    name: 'conv2dBackwardData', args: ['gy:in', 'w:in', 'gx:out', 'p:conv'],
    doc: 'gx = the gradient of conv2d with respect to its input for output gradient gy (a transposed convolution). Overwrites gx.',
  },
  { name: 'conv2dBackwardWeight', args: ['x:in', 'gy:in', 'gw:out', 'p:conv'], doc: 'gw = the gradient of conv2d with respect to its weight. Overwrites gw.' },
  {
    name: 'conv2dWeightGradMoments', args: ['x:in', 'gy:in', 'sum:out?', 'sumSq:out', 'p:conv'],
    doc: 'Moments of the per-sample weight gradients: with G_n the weight gradient of conv2d for sample n\nalone (conv2dBackwardWeight at batch 1), adds Σ_n G_n into `sum` (skipped when null) and Σ_n G_n²\ninto `sumSq`. Accumulates: the caller initialises both.',
  },
  {
    name: 'conv2dWeightGradProbeDot', args: ['x:in', 'gy:in', 'z:in', 'acc:out', 'p:conv'],
    doc: 'The probe contraction of the per-sample weight gradients: with G_n as above and z [n, ...weight\nshape] one probe per sample, adds Σ_n z_n ⊙ G_n into `acc`.',
  },
  {
    name: 'rademacherFill', args: ['state:state', 'out:out'],
    doc: 'Rademacher values from an xoshiro128** state [s0, s1, s2, s3] (src/tensor/random.ts), advanced\nin place by one step per value: out[i] = 1 when bit 0 of draw i is 0, else -1.',
  },
  {
    name: 'fmaPeak', args: ['iters:int', 'scale:num', 'shift:num', 'out:out'],
    doc: "For measuring the machine's arithmetic peak (the benchmarks): every thread runs `iters` rounds of\nacc = acc * scale + shift from 0 on independent vector chains, as many as cover the multiply-add\nlatency. out[0] = one chain's final value, out[1] = flops per round per thread, out[2] = threads.\nThe native backend runs it in the widest vector build the CPU has; out needs 3 values.",
  },
  {
    name: 'sparseConv2d', args: ['x:in', 'values:in', 'pattern:csr', 'bias:in?', 'out:out', 'p:sparseConv'],
    doc: 'out = conv2d(x, W) (+ bias[oc]) for the sparse weight W. Overwrites out.',
    group: 'Sparse layers (see CsrPattern). `values` holds one weight per stored entry, in pattern order.\nThe convolutions take Conv2dParams with groups = 1 only (a grouped pruned convolution stays on\nthe dense path); the dense weight shape they stand for is [oc, c, kh, kw].',
  },
  {
    name: 'sparseConv2dBackwardData', args: ['gy:in', 'values:in', 'pattern:csr', 'gx:out', 'p:sparseConv'],
    doc: 'gx = the input gradient of sparseConv2d for output gradient gy (the transposed sparse convolution). Overwrites gx.',
  },
  {
    name: 'sparseConv2dBackwardWeight', args: ['x:in', 'gy:in', 'pattern:csr', 'gv:out', 'p:sparseConv'],
    doc: "gv = the weight gradient of conv2d evaluated at the pattern's entries only (a sampled\ndense-dense product): gv[k] = Σ_n,oy,ox gy[n, oc, oy, ox] x[n, ic, iy, ix] for entry k = (oc, ic, ky, kx).\nOverwrites gv (one value per stored entry).",
  },
  {
    name: 'sparseLinear', args: ['x:in', 'values:in', 'pattern:csr', 'bias:in?', 'out:out', 'p:linear'],
    doc: 'out [n, outF] = x [n, inF] Wᵀ (+ bias[outF]) for the sparse weight W [outF, inF]. Overwrites out.',
  },
  { name: 'sparseLinearBackwardData', args: ['gy:in', 'values:in', 'pattern:csr', 'gx:out', 'p:linear'], doc: 'gx [n, inF] = gy [n, outF] W. Overwrites gx.' },
  {
    name: 'sparseLinearBackwardWeight', args: ['x:in', 'gy:in', 'pattern:csr', 'gv:out', 'p:linear'],
    doc: 'gv[k] = Σ_n gy[n, o] x[n, i] for entry k = (o, i): the weight gradient at the stored entries. Overwrites gv.',
  },
  {
    name: 'maxPool2d', args: ['x:in', 'out:out', 'idx:idxOut', 'p:pool'],
    doc: "Max pooling; idx receives the flat index into x of each output's maximum (first one on ties).",
  },
  { name: 'avgPool2d', args: ['x:in', 'out:out', 'p:pool'], doc: 'Average pooling over NCHW planes (see Pool2dParams).' },
  { name: 'avgPool2dBackward', args: ['gy:in', 'gx:out', 'p:pool'], doc: 'The adjoint of avgPool2d. Overwrites gx.' },
  { name: 'adaptiveAvgPool2d', args: ['x:in', 'out:out', 'p:adaptive'], doc: 'Adaptive average pooling over NCHW planes (see AdaptivePool2dParams).' },
  { name: 'adaptiveAvgPool2dBackward', args: ['gy:in', 'gx:out', 'p:adaptive'], doc: 'The adjoint of adaptiveAvgPool2d. Overwrites gx.' },
];

/**
 * Functions of the addon that are not kernels: the thread setting (a generated wrapper around a
 * body in addon.cc, like a kernel) and two whose Node-API functions addon.cc writes whole, as they
 * return values (`returns`: their TypeScript result type).
 */
export const CONTROLS = [
  { name: 'setNumThreads', args: ['n:int'] },
  { name: 'numThreads', args: [], returns: 'number' },
  { name: 'info', args: [], returns: '{ isa: string; onednn: string; cores: number; allocator: string }' },
];
