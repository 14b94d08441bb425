// Flag parsing and validation shared by the commands. Commander hands every value over as a
// string; the parsers here turn them into numbers and throw UserError with the flag's name, so
// every bad value ends as one `pai: ...` line.
//
// The library is imported lazily (await import) here and in the commands, so that a command loads
// only what it uses: `pai models` must not pay for the autograd engine, readers and downloaders.

import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from './errors.js';
import { at } from '../tensor/checked.js';
import type { Model, CreateOptions } from '../models/registry.js';

export function parseInteger(flag: string, v: string, min = 0): number {
  const s = v.trim();
  const n = /^[+-]?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UserError(`${flag} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function parseNumber(flag: string, v: string): number {
  const s = v.trim();
  const n = s === '' ? NaN : Number(s);
  if (!Number.isFinite(n)) throw new UserError(`${flag} must be a number, got "${v}"`);
  return n;
}

export function parsePositive(flag: string, v: string): number {
  const n = parseNumber(flag, v);
  if (!(n > 0)) throw new UserError(`${flag} must be positive, got "${v}"`);
  return n;
}

/** A width multiplier: a decimal (0.0625) or a fraction (1/16), as the paper's model sizes are written. */
export function parseWidth(v: string): number {
  const m = /^\s*([0-9.]+)\s*\/\s*([0-9.]+)\s*$/.exec(v);
  const n = m ? Number(m[1]) / Number(m[2]) : Number(v.trim() === '' ? NaN : v);
  if (!Number.isFinite(n) || !(n > 0)) throw new UserError(`--width must be a positive number or fraction such as 1/16, got "${v}"`);
  return n;
}

export function parseSparsity(v: string, flag = '--sparsity'): number {
  const n = parseNumber(flag, v);
  if (!(n >= 0 && n < 1)) throw new UserError(`${flag} must be in [0, 1), got ${v}`);
  return n;
}

export function parseChoice<T extends string>(flag: string, v: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(v)) throw new UserError(`${flag} must be one of ${choices.join(', ')}, got "${v}"`);
  return v as T;
}

export async function checkCriterion(name: string): Promise<string> {
  const names = (await import('../prune/index.js')).criterionNames();
  if (!names.includes(name)) throw new UserError(`unknown criterion "${name}"; choose one of: ${names.join(', ')} (see pai criteria)`);
  return name;
}

export async function checkModelName(name: string): Promise<string> {
  const names = (await import('../models/registry.js')).modelNames();
  if (!names.includes(name)) throw new UserError(`unknown model "${name}"; choose one of: ${names.join(', ')} (see pai models)`);
  return name;
}

/** An input file that must exist; checked before any work so the message names the flag. */
export function requireFile(flag: string, path: string): string {
  if (!existsSync(path)) throw new UserError(`${flag} ${path}: no such file`);
  if (!statSync(path).isFile()) throw new UserError(`${flag} ${path}: not a file`);
  return path;
}

/** An output file whose folder must exist; checked before any work, so a typo costs nothing. */
export function checkOutFile(flag: string, path: string): string {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${flag} ${path}: folder ${dir} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UserError(`${flag} ${path}: is a folder, expected a file name`);
  return path;
}

// ---- model flags ----

export interface ModelFlags {
  model?: string;
  /** An ONNX file in place of a zoo model. */
  onnx?: string;
  prunableInclude?: string;
  prunableExclude?: string;
  width?: string;
  numClasses?: string;
  inChannels?: string;
  imageSize?: string;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <name>', 'model from the zoo (see pai models); or give --onnx')
    .option('--onnx <file>', 'an ONNX file exported from PyTorch, in place of --model (see pai inspect and the README, "Your own model")')
    .option('--prunable-include <globs>', 'with --onnx: comma-separated parameter-name patterns (* and ?) to add to the prunable set')
    .option('--prunable-exclude <globs>', 'with --onnx: comma-separated parameter-name patterns to leave out of the prunable set')
    .option('--width <w>', 'width multiplier, a decimal or a fraction (1/16 = 0.0625)')
    .option('--num-classes <c>', 'classifier outputs')
    .option('--in-channels <i>', 'input channels (1 for Fashion-MNIST)')
    .option('--image-size <s>', 'input side in pixels');
}

/** Options that are an ONNX graph's own sizes, so that mismatches name the file, not a flag. */
const fromOnnx = new WeakMap<CreateOptions, string>();

const SIZE_FLAGS = [['width', '--width'], ['numClasses', '--num-classes'], ['inChannels', '--in-channels'], ['imageSize', '--image-size']] as const;

/**
 * The model options the user gave; fields not given stay undefined so the caller can fill them.
 * With --onnx the graph is imported here (once), and its own input and class counts are the options.
 */
export async function modelOptions(f: ModelFlags): Promise<CreateOptions> {
  if (f.onnx !== undefined) {
    if (f.model !== undefined) throw new UserError('give --model NAME or --onnx FILE, not both');
    const given = SIZE_FLAGS.filter(([k]) => f[k] !== undefined).map(([, flag]) => flag);
    if (given.length) throw new UserError(`${given.join(', ')} size zoo models; an ONNX graph fixes its own sizes (drop ${given.length > 1 ? 'them' : 'it'})`);
    const c = (await onnxModel(f, f.onnx)).config;
    const o: CreateOptions = { inChannels: c.inChannels, imageSize: c.imageSize, numClasses: c.numClasses };
    fromOnnx.set(o, f.onnx);
    return o;
  }
  if (f.prunableInclude !== undefined || f.prunableExclude !== undefined) throw new UserError('--prunable-include and --prunable-exclude apply to --onnx models');
  if (f.model === undefined) throw new UserError('give --model NAME (see pai models) or --onnx FILE');
  await checkModelName(f.model);
  const o: CreateOptions = {};
  if (f.width !== undefined) o.width = parseWidth(f.width);
  if (f.numClasses !== undefined) o.numClasses = parseInteger('--num-classes', f.numClasses, 1);
  if (f.inChannels !== undefined) o.inChannels = parseInteger('--in-channels', f.inChannels, 1);
  if (f.imageSize !== undefined) o.imageSize = parseInteger('--image-size', f.imageSize, 1);
  return o;
}

/**
 * Fills in-channels and image size from an NCHW input the model will see, where the user did not
 * give them; where they did and the input disagrees, that is an error now rather than a shape error
 * deep in the forward pass.
 */
export function fitToInput(o: CreateOptions, shape: readonly number[], source: string): CreateOptions {
  const [, c, h, w] = shape as [number, number, number, number];
  const out = { ...o };
  const onnx = fromOnnx.get(o);
  const given = (flag: string, v: number | undefined, what: string): string => (onnx !== undefined ? `--onnx ${onnx} takes ${what}` : `${flag} ${v}`);
  if (out.inChannels === undefined) out.inChannels = c;
  else if (out.inChannels !== c) throw new UserError(`${given('--in-channels', out.inChannels, `${out.inChannels}-channel images`)}, but ${source} has ${c}-channel images`);
  if (onnx !== undefined && (h !== out.imageSize || w !== out.imageSize)) throw new UserError(`${given('--image-size', out.imageSize, `${out.imageSize}x${out.imageSize} images`)}, but ${source} has ${h}x${w} images`);
  if (h === w) {
    if (out.imageSize === undefined) out.imageSize = h;
    else if (out.imageSize !== h) throw new UserError(`--image-size ${out.imageSize}, but ${source} has ${h}x${w} images`);
  }
  return out;
}

const imported = new Map<string, Model>();

/** The --onnx model (file `onnx`), imported once per process; its warnings go to stderr. */
async function onnxModel(f: ModelFlags, onnx: string): Promise<Model> {
  const path = requireFile('--onnx', onnx);
  let model = imported.get(path);
  if (!model) {
    const { importOnnx } = await import('../models/onnx/index.js');
    const list = (v: string | undefined): string[] | undefined => v?.split(',').map((p) => p.trim()).filter(Boolean);
    const m = importOnnx(path, { include: list(f.prunableInclude), exclude: list(f.prunableExclude) });
    for (const w of m.warnings) process.stderr.write(`pai: warning: ${onnx}: ${w}\n`);
    imported.set(path, m);
    model = m;
  }
  return model;
}

/** The model the flags name: a zoo model built with `o` (a bare name is a zoo model), or the --onnx graph. */
export async function buildModel(f: ModelFlags | string, o: CreateOptions, weights?: string): Promise<Model> {
  const flags: ModelFlags = typeof f === 'string' ? { model: f } : f;
  const { createModel } = await import('../models/registry.js');
  const zoo = (name: string | undefined): Model => {
    if (name === undefined) throw new UserError('give --model NAME (see pai models) or --onnx FILE');
    return createModel(name, o);
  };
  const model = flags.onnx !== undefined ? await onnxModel(flags, flags.onnx) : zoo(flags.model);
  if (weights !== undefined) {
    const { entriesToTensors } = await import('../nn/serialize.js');
    const { readSafetensors } = await import('../tensor/safetensors.js');
    const sd = entriesToTensors(readSafetensors(weights).tensors, weights);
    // A PyTorch state dict of the network an ONNX file came from has the batch-norm counters
    // (num_batches_tracked), which ONNX does not carry; everything else must match exactly.
    if (flags.onnx !== undefined) for (const k of [...sd.keys()]) if (k.endsWith('num_batches_tracked') && !model.stateDict().has(k)) sd.delete(k);
    model.loadStateDict(sd, { source: weights });
  }
  model.eval();
  return model;
}

/** How files and reports name the model: the zoo name, or onnx:FILE. */
export function modelLabel(f: ModelFlags): string {
  return f.onnx !== undefined ? `onnx:${resolve(f.onnx)}` : f.model ?? '';
}

/** Metadata strings describing a model, for the __metadata__ of written files. */
export function modelMetadata(f: ModelFlags | string, model: Model): Record<string, string> {
  const c = model.config;
  return {
    model: typeof f === 'string' ? f : modelLabel(f),
    width: String(c.width), num_classes: String(c.numClasses), in_channels: String(c.inChannels), image_size: String(c.imageSize),
  };
}

// ---- shared pieces of option sets and help ----

export const SEMANTICS_CHOICES = ['fixed', 'reference'] as const;
export const SCOPE_CHOICES = ['global', 'layer'] as const;
export const SCHEDULE_CHOICES = ['exponential', 'linear'] as const;

export function semanticsOption(): Option {
  return new Option('--semantics <mode>', 'fixed (the methods as published) or reference (the paper\'s released code)').choices(SEMANTICS_CHOICES).default('fixed');
}

/** Examples under the help text; every command has some. */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/** Column-aligned plain text table. */
export function table(header: string[], rows: string[][], rightAligned: ReadonlySet<number> = new Set()): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // A row may be shorter than the header, not longer.
  const width = (i: number): number => at(w, i, 'column widths');
  const fmt = (r: string[]): string => r.map((c, i) => (i === r.length - 1 && !rightAligned.has(i) ? c : rightAligned.has(i) ? c.padStart(width(i)) : c.padEnd(width(i)))).join('  ');
  return [fmt(header), fmt(w.map((n) => '-'.repeat(n))), ...rows.map(fmt)].join('\n');
}
