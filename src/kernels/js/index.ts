// The reference backend: plain TypeScript over typed arrays, float32 and float64. It defines the
// semantics every other backend is tested against, so it favours clarity over speed; it is
// single-threaded, and the thread setting is accepted and ignored.

import type { Backend, DType } from '../interface.js';
import { affine, binary, powScalar, unary, where } from './elementwise.js';
import { reduce } from './reduce.js';
import { copyStrided, gather, scatterAdd } from './copy.js';
import { matmul } from './matmul.js';
import { channelAffine, channelAffineGrad, channelGradSums, channelMoments } from './channel.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight } from './conv.js';
import { conv2dWeightGradMoments, conv2dWeightGradProbeDot } from './persample.js';
import { rademacherFill } from './random.js';
import { fmaPeak } from './peak.js';
import {
  adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d, avgPool2dBackward, maxPool2d,
} from './pool.js';
import {
  sparseConv2d, sparseConv2dBackwardData, sparseConv2dBackwardWeight, sparseLinear, sparseLinearBackwardData,
  sparseLinearBackwardWeight,
} from './sparse.js';

/** The TypeScript reference backend: portable, float32 and float64, the definition of every kernel's semantics. */
export const jsBackend: Backend = {
  name: 'js',
  supports(dtype: DType): boolean {
    return dtype === 'float32' || dtype === 'float64';
  },
  setNumThreads(_n: number): void {},
  numThreads(): number {
    return 1;
  },
  unary,
  affine,
  powScalar,
  binary,
  where,
  reduce,
  copyStrided,
  gather,
  scatterAdd,
  matmul,
  channelMoments,
  channelAffine,
  channelGradSums,
  channelAffineGrad,
  conv2d,
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dWeightGradMoments,
  conv2dWeightGradProbeDot,
  rademacherFill,
  fmaPeak,
  maxPool2d,
  avgPool2d,
  avgPool2dBackward,
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  sparseConv2d,
  sparseConv2dBackwardData,
  sparseConv2dBackwardWeight,
  sparseLinear,
  sparseLinearBackwardData,
  sparseLinearBackwardWeight,
};
