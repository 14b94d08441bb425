// `pai export`: a trained or pruned model out of pai, as ONNX (for runtimes), as a PyTorch-loadable
// safetensors state dict, or as pai's sparse artifact (indices + values of the kept weights).

import { Option, type Command } from 'commander';
import type { CreateOptions } from '../../models/registry.js';
import { UserError } from '../errors.js';
import { checkModelName, checkOutFile, examples, parseChoice, parseInteger, parseWidth, requireFile } from '../options.js';
import { paiVersion } from '../version.js';

const FORMATS = ['onnx', 'safetensors', 'sparse'] as const;
const WHICH = ['best', 'last'] as const;

interface Flags {
  checkpoint: string;
  format: string;
  out: string;
  which?: string;
  masksOut?: string;
  opset?: string;
  model?: string;
  onnx?: string;
  width?: string;
  numClasses?: string;
  inChannels?: string;
  imageSize?: string;
}

function kib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

export function register(program: Command): void {
  const cmd = program.command('export')
    .description('export a checkpoint or pruned model as ONNX, a safetensors state dict, or a sparse artifact')
    .requiredOption('--checkpoint <dir>', 'a checkpoint folder (model.safetensors + complete), a training folder with best/ and last/, or a pai prune --out folder')
    .addOption(new Option('--format <f>', 'onnx, safetensors (dense, PyTorch names) or sparse (pai-sparse/1)').choices(FORMATS).makeOptionMandatory())
    .requiredOption('--out <file>', 'file to write')
    .addOption(new Option('--which <w>', 'in a training folder, the best or the last checkpoint (default: best, else last)').choices(WHICH))
    .option('--masks-out <file>', 'also write the masks (safetensors, 1 = keep) when the folder has them')
    .option('--opset <n>', 'ONNX opset, 17 to 21', '17')
    .option('--model <name>', 'the model, when the folder does not record it (model.json, report.json or model.safetensors metadata)')
    .option('--onnx <file>', 'the ONNX file the weights belong to, when the folder does not record it (pai prune --onnx records it); with --format onnx its graph is written back with these weights')
    .option('--width <w>', 'width multiplier (with --model, or to override the recorded one)')
    .option('--num-classes <c>', 'classifier outputs')
    .option('--in-channels <i>', 'input channels')
    .option('--image-size <s>', 'input side in pixels')
    .addHelpText('after', `
The model behind the weights is read from model.json (in the folder or up to two parents),
report.json (pai prune) or model.safetensors' metadata; --model and the size flags give or
override it. Masks found in the folder are applied before export.

onnx: the eval-mode forward traced into an ONNX graph (input "input" [N, C, H, W], N dynamic;
output "logits"); parameters are initializers under their PyTorch state-dict names.
safetensors: the state dict, loadable in PyTorch with load_state_dict(load_file(...)).
sparse: every tensor stored in its smallest of dense, bitmap and delta-index encodings; the size
against the dense safetensors file is printed. Load it back with loadSparseIntoModel.`)
    .action(async (f: Flags) => {
      const format = parseChoice('--format', f.format, FORMATS);
      const opset = parseInteger('--opset', f.opset ?? '17', 1);
      if (opset < 17 || opset > 21) throw new UserError(`--opset must be from 17 to 21, got ${opset}`);
      checkOutFile('--out', f.out);
      if (f.masksOut !== undefined) checkOutFile('--masks-out', f.masksOut);
      const over: CreateOptions = {};
      if (f.width !== undefined) over.width = parseWidth(f.width);
      if (f.numClasses !== undefined) over.numClasses = parseInteger('--num-classes', f.numClasses, 1);
      if (f.inChannels !== undefined) over.inChannels = parseInteger('--in-channels', f.inChannels, 1);
      if (f.imageSize !== undefined) over.imageSize = parseInteger('--image-size', f.imageSize, 1);
      if (f.model !== undefined) await checkModelName(f.model);
      if (f.onnx !== undefined && f.model !== undefined) throw new UserError('give --model NAME or --onnx FILE, not both');
      if (f.onnx !== undefined) requireFile('--onnx', f.onnx);

      const ex = await import('../../export/index.js');
      const { saveTensors, writeSafetensors } = await import('../../tensor/safetensors.js');
      const { stateDictEntries } = await import('../../nn/serialize.js');
      let src: ReturnType<typeof ex.readExportSource>;
      try {
        src = ex.readExportSource(f.checkpoint, (f.which as 'best' | 'last' | undefined) ?? null);
      } catch (e) {
        // A torn or foreign checkpoint is a problem with the folder the user named, not a bug.
        if ((e as Error).name === 'CheckpointError') throw new UserError((e as Error).message);
        throw e;
      }
      const found = ex.findModelIdentity(src.dir);
      let id;
      if (f.onnx !== undefined) id = { name: (await import('../../models/onnx/index.js')).onnxModelName(f.onnx), options: {} };
      else if (f.model !== undefined) id = { name: f.model, options: { ...(found && found.id.name === f.model ? found.id.options : {}), ...over } };
      else if (found) id = { name: found.id.name, options: { ...found.id.options, ...over } };
      else throw new UserError(`--checkpoint ${f.checkpoint}: the folder does not record its model (no model.json, report.json or model metadata); give --model NAME and its size flags`);
      const model = ex.buildModelFromSource(src, id);
      const meta = { ...ex.identityMetadata(id), source: src.dir, pai_version: paiVersion() };

      let line: string;
      if (format === 'onnx') {
        // A model imported from ONNX goes back as its own graph with the new weights.
        const { OnnxModel } = await import('../../models/onnx/index.js');
        const r = model instanceof OnnxModel ? { ...ex.rewriteOnnx(model, { metadata: meta }), nodes: 0, opTypes: [] as string[] } : ex.exportOnnx(model, { opset, metadata: meta, producerVersion: paiVersion() });
        const { writeFileAtomic } = await import('../../tensor/atomic-file.js');
        writeFileAtomic(f.out, r.bytes);
        line = model instanceof OnnxModel
          ? `wrote ${f.out}: the graph of ${model.source} (opset ${model.opset}) with these weights, ${r.bytes.length} bytes (${kib(r.bytes.length)})`
          : `wrote ${f.out}: ONNX opset ${opset}, ${r.nodes} nodes (${r.opTypes.join(', ')}), ${r.bytes.length} bytes (${kib(r.bytes.length)})`;
      } else if (format === 'safetensors') {
        const entries = stateDictEntries(model, f.out);
        writeSafetensors(f.out, entries, { ...meta, content: 'state dict' });
        const { statSync } = await import('node:fs');
        line = `wrote ${f.out}: ${entries.size} tensors, ${statSync(f.out).size} bytes (${kib(statSync(f.out).size)})`;
      } else {
        const r = ex.saveSparse(f.out, model, { ...meta, content: 'sparse state dict' });
        const sparse = r.tensors.filter((t) => t.encoding !== 'dense');
        const kept = sparse.reduce((s, t) => s + t.stored, 0), total = sparse.reduce((s, t) => s + t.numel, 0);
        line = `wrote ${f.out}: ${r.sparseBytes} bytes (${kib(r.sparseBytes)}) against ${r.denseBytes} bytes (${kib(r.denseBytes)}) dense, ${r.ratio.toFixed(2)}x smaller; ${sparse.length} of ${r.tensors.length} tensors stored sparse, keeping ${kept} of their ${total} values`;
      }
      if (f.masksOut !== undefined) {
        if (!src.masks) throw new UserError(`--masks-out: ${src.dir} has no masks.safetensors`);
        saveTensors(f.masksOut, src.masks, { ...meta, content: 'masks (1 = keep)' });
        line += `; masks to ${f.masksOut}`;
      }
      process.stdout.write(`${line}\n(model ${id.name} ${JSON.stringify(id.options)}${found ? ` from ${found.source}` : ''}; weights from ${src.dir})\n`);
    });
  examples(cmd, [
    'pai export --checkpoint runs/r20-snip --format onnx --out r20.onnx',
    'pai export --checkpoint runs/train/r20 --which last --format sparse --out r20.pai-sparse.safetensors',
    'pai export --checkpoint runs/ckpt --model resnet20 --width 1/4 --format safetensors --out model.safetensors --masks-out masks.safetensors',
  ]);
}
