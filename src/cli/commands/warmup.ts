// `pai warmup`: the paper's BN warm-up on images from a safetensors file: forward passes in train
// mode without gradients, in file order, so only the batch-norm running statistics move.

import type { Command } from 'commander';
import type { Tensor } from '../../tensor/tensor.js';
import { shapeMin } from '../../tensor/shape.js';
import { UserError } from '../errors.js';
import { addModelOptions, checkOutFile, buildModel, examples, fitToInput, modelMetadata, modelOptions, parseInteger, requireFile, type ModelFlags } from '../options.js';
import { startTask } from '../progress.js';
import { paiVersion } from '../version.js';

interface Flags extends ModelFlags { weights?: string; data: string; batchSize: string; maxBatches?: string; out: string }

/** Consecutive batches of an NCHW tensor, sharing its buffer. */
function* fileOrderBatches(TensorClass: typeof Tensor, x: Tensor, batchSize: number): IterableIterator<Tensor> {
  const [n, ...rest] = x.shape as [number, ...number[]];
  const per = x.size / n;
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    yield new TensorClass(x.data.subarray(s * per, e * per), [e - s, ...rest]);
  }
}

export function register(program: Command): void {
  const cmd = addModelOptions(program.command('warmup')
    .description('BN warm-up: train-mode forward passes without gradients over images, updating only running statistics'))
    .option('--weights <file>', 'state dict to start from (safetensors); needed with --model, optional with --onnx (default: the file\'s weights)')
    .requiredOption('--data <file>', 'safetensors with x [N,C,H,W] float32 (y is not needed)')
    .requiredOption('--batch-size <b>', 'images per forward pass, taken in file order (the last batch may be smaller)')
    .option('--max-batches <n>', 'stop after this many batches')
    .requiredOption('--out <file>', 'updated state dict to write (safetensors)')
    .addHelpText('after', `
The weights do not change; running means and variances move with BN momentum 0.1 and
num_batches_tracked counts the batches, as in PyTorch. When --in-channels or --image-size is not
given it is taken from x.`)
    .action(async (f: Flags) => {
      const batchSize = parseInteger('--batch-size', f.batchSize, 1);
      const maxBatches = f.maxBatches !== undefined ? parseInteger('--max-batches', f.maxBatches, 1) : undefined;
      const mo = await modelOptions(f);
      if (f.weights === undefined && f.onnx === undefined) throw new UserError('--weights FILE is needed with --model (the state dict to warm up)');
      if (f.weights !== undefined) requireFile('--weights', f.weights);
      checkOutFile('--out', f.out);
      requireFile('--data', f.data);
      const { bnWarmup } = await import('../../prune/index.js');
      const { saveStateDict } = await import('../../nn/serialize.js');
      const { readSafetensors, toTensor } = await import('../../tensor/safetensors.js');
      const { Tensor } = await import('../../tensor/tensor.js');
      const { shapeStr } = await import('../../tensor/shape.js');
      const file = readSafetensors(f.data);
      const e = file.tensors.get('x');
      if (!e) throw new UserError(`--data ${f.data}: no tensor "x" (tensors: ${[...file.tensors.keys()].join(', ') || 'none'})`);
      if (e.dtype !== 'F32' || e.shape.length !== 4) throw new UserError(`--data ${f.data}: "x" must be float32 [N, C, H, W], got ${e.dtype} ${shapeStr(e.shape)}`);
      if (e.shape[0] === 0) throw new UserError(`--data ${f.data}: "x" holds no images`);
      const x = toTensor(e, `${f.data}: tensor "x"`);
      const model = await buildModel(f, fitToInput(mo, x.shape, `--data ${f.data}`), f.weights);
      const total = Math.min(Math.ceil(shapeMin('warmup', x.shape, 1, 'data')[0] / batchSize), maxBatches ?? Infinity);
      const task = startTask('warm-up', total, { unit: 'batches' });
      const t0 = performance.now();
      const done = bnWarmup(model, fileOrderBatches(Tensor, x, batchSize), { ...(maxBatches !== undefined ? { maxBatches } : {}), progress: (d) => task.update(d) });
      task.done();
      saveStateDict(f.out, model, {
        warmup_data: f.data, warmup_batches: String(done), batch_size: String(batchSize), ...(f.weights !== undefined ? { weights: f.weights } : {}),
        ...modelMetadata(f, model), pai_version: paiVersion(),
      });
      process.stdout.write(`warm-up: ${done} batch(es) of up to ${batchSize} in ${((performance.now() - t0) / 1000).toFixed(2)} s; wrote ${f.out}\n`);
    });
  examples(cmd, [
    'pai warmup --model resnet18 --width 1/32 --weights model.safetensors --data warmup.safetensors --batch-size 16 --out warm.safetensors',
  ]);
}
