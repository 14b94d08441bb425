// Batches from a Dataset: seeded per-epoch shuffling, drop-last, augmentation, and optional
// preparation on worker threads while the consumer trains.
//
// Determinism: batch b of epoch e is a pure function of (seed, e, b). The order of epoch e is the
// permutation drawn from stream `data-order/epoch-${e}`, so resuming at epoch e reproduces it
// without replaying earlier epochs; the augmentation of batch b draws from its own stream
// `augment/epoch-${e}/batch-${b}`, samples in batch order, so it does not matter which thread
// prepares which batch or in what order they finish. workers=0 and workers=N give the same bits.
//
// Workers rebuild the dataset from a serialisable DatasetSpec. In-memory datasets travel as a
// SharedArrayBuffer, so every worker reads the one copy of the pixels; finished batches come back
// as transferred ArrayBuffers, so nothing is copied on the way back either.

import { Worker } from 'node:worker_threads';
import { Tensor } from '../tensor/tensor.js';
import { at, defined } from '../tensor/checked.js';
import { z } from 'zod';
import { Generator } from '../tensor/random.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { InMemoryDataset, SubsetDataset, isDataset, type Dataset, type Sample } from './dataset.js';
import { compileTransform, transformedShape, validateTransformSpec, type Pipeline, type TransformSpec } from './transforms.js';

/** How a worker thread rebuilds a dataset: from shared memory, by name through the registry, or as a subset of another spec. */
export type DatasetSpec =
  | {
      kind: 'memory'; name: string;
      /** N*C*H*W bytes, image-major; backed by a SharedArrayBuffer so that workers do not copy it. */
      pixels: Uint8Array;
      labels: Int32Array;
      shape: readonly [number, number, number];
      numClasses: number;
    }
  /** Resolved in each worker through `loadDataset(name, split, { dataDir, ...options })` of registry.ts. */
  | { kind: 'registry'; name: string; split: string; dataDir?: string; options?: Record<string, unknown> }
  /** The items of `base` at `indices`, in that order. */
  | { kind: 'subset'; base: DatasetSpec; indices: Int32Array };

/** A dataset that can say how a worker thread rebuilds it. */
export interface SpecSource {
  /** The spec a worker rebuilds this dataset from. */
  toSpec(): DatasetSpec;
}

/** One batch as the loader yields it. */
export interface Batch {
  /** [B, C, H, W] float32. */
  x: Tensor;
  y: Int32Array;
  /** The dataset index of each row. */
  indices: Int32Array;
}

/** A failure while preparing a batch; the message names the dataset, item and (through the reader's message) file. */
export class LoaderError extends Error {
  readonly epoch: number;
  readonly batch: number;
  readonly item: number | undefined;
  /** The file at fault, when the reader named one (DataError.file). */
  readonly file: string | undefined;

  constructor(message: string, info: { epoch: number; batch: number; item?: number; file?: string; cause?: unknown }) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'LoaderError';
    this.epoch = info.epoch;
    this.batch = info.batch;
    this.item = info.item;
    this.file = info.file;
  }
}

/** A dataset over a shared N*C*H*W buffer whose samples are views, not copies. */
export class SharedMemoryDataset implements Dataset, SpecSource {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly shape: readonly [number, number, number];
  readonly pixels: Uint8Array;
  private readonly labelData: Int32Array;
  private readonly per: number;

  constructor(spec: Extract<DatasetSpec, { kind: 'memory' }>) {
    const [c, h, w] = spec.shape;
    this.per = c * h * w;
    if (spec.pixels.length !== spec.labels.length * this.per) {
      throw new RangeError(`${spec.name}: ${spec.pixels.length} pixel bytes do not hold ${spec.labels.length} images of shape [${spec.shape.join(', ')}]`);
    }
    this.name = spec.name;
    this.length = spec.labels.length;
    this.numClasses = spec.numClasses;
    this.shape = [c, h, w];
    this.pixels = spec.pixels;
    this.labelData = spec.labels;
  }

  get(i: number): Sample {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`${this.name}: index ${i} out of range 0..${this.length - 1}`);
    // A view: pipelines never write to their input (transforms.ts), so sharing is safe.
    return { pixels: this.pixels.subarray(i * this.per, (i + 1) * this.per), shape: this.shape, label: at(this.labelData, i, 'labels') };
  }

  labels(): Int32Array {
    return this.labelData.slice();
  }

  toSpec(): DatasetSpec {
    return { kind: 'memory', name: this.name, pixels: this.pixels, labels: this.labelData, shape: this.shape, numClasses: this.numClasses };
  }

  /** Copies a fixed-shape dataset into shared memory (one pass over it). */
  static from(ds: Dataset): SharedMemoryDataset {
    if (ds instanceof SharedMemoryDataset) return ds;
    const cached = sharedCopies.get(ds);
    if (cached) return cached;
    const made = SharedMemoryDataset.copy(ds);
    sharedCopies.set(ds, made);
    return made;
  }

  private static copy(ds: Dataset): SharedMemoryDataset {
    const shape = ds.shape;
    if (shape === null) throw new RangeError(`${ds.name}: images differ in size; give the loader a datasetSpec that workers can load`);
    const per = shape[0] * shape[1] * shape[2];
    const labels = new Int32Array(new SharedArrayBuffer(ds.length * 4));
    labels.set(ds.labels());
    if (ds instanceof InMemoryDataset && isShared(ds.data)) {
      return new SharedMemoryDataset({ kind: 'memory', name: ds.name, pixels: ds.data, labels, shape, numClasses: ds.numClasses });
    }
    const pixels = new Uint8Array(new SharedArrayBuffer(ds.length * per));
    // InMemoryDataset exposes its buffer; copying it whole avoids N calls that each slice an image.
    if (ds instanceof InMemoryDataset) {
      pixels.set(ds.data);
    } else {
      for (let i = 0; i < ds.length; i++) {
        const s = ds.get(i);
        if (s.pixels.length !== per) throw new RangeError(`${ds.name}: item ${i} has shape [${s.shape.join(', ')}], not [${shape.join(', ')}]`);
        pixels.set(s.pixels, i * per);
      }
    }
    return new SharedMemoryDataset({ kind: 'memory', name: ds.name, pixels, labels, shape, numClasses: ds.numClasses });
  }
}

function isShared(a: ArrayBufferView): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

/** True when workers can rebuild `ds` without copying its pixels. */
function describable(ds: Dataset): boolean {
  return typeof (ds as Partial<SpecSource>).toSpec === 'function'
    || (ds instanceof InMemoryDataset && isShared(ds.data))
    || sharedCopies.has(ds);
}

/**
 * How a worker rebuilds `ds`: its own spec when it has one, else a shared-memory copy. A subset of a
 * dataset that is already describable travels as (base, indices); any other subset is copied alone,
 * which keeps a 100-image mask subset of a large set cheap.
 */
export function datasetSpecOf(ds: Dataset): DatasetSpec {
  const own = (ds as Partial<SpecSource>).toSpec;
  if (typeof own === 'function') return own.call(ds);
  if (ds instanceof SubsetDataset && describable(ds.base)) {
    return { kind: 'subset', base: datasetSpecOf(ds.base), indices: ds.indices };
  }
  return SharedMemoryDataset.from(ds).toSpec();
}

// One shared copy per dataset, however many loaders (train, BN warm-up, ...) read it.
const sharedCopies = new WeakMap<Dataset, SharedMemoryDataset>();

/** Rebuilds a dataset from its spec (in a worker, or anywhere). */
export async function datasetFromSpec(spec: DatasetSpec): Promise<Dataset> {
  switch (spec.kind) {
    case 'memory':
      return new SharedMemoryDataset(spec);
    case 'subset': {
      const base = await datasetFromSpec(spec.base);
      const idx = spec.indices;
      return {
        name: `${base.name}[${idx.length}]`, length: idx.length, numClasses: base.numClasses, shape: base.shape,
        get: (i: number) => {
          if (!Number.isInteger(i) || i < 0 || i >= idx.length) throw new RangeError(`${base.name} subset: index ${i} out of range`);
          return base.get(at(idx, i, 'subset indices'));
        },
        labels: () => { const all = base.labels(); return Int32Array.from(idx, (i) => at(all, i, 'base labels')); },
      };
    }
    case 'registry': {
      // Through a variable so that this module compiles and loads without the registry present.
      const path = './registry.js';
      const mod = (await import(path)) as { loadDataset: (name: string, split: string, opts: Record<string, unknown>) => Dataset | Promise<Dataset> };
      return await mod.loadDataset(spec.name, spec.split, { ...spec.options, ...(spec.dataDir === undefined ? {} : { dataDir: spec.dataDir }) });
    }
  }
}

/** Options of `DataLoader`. */
export interface LoaderOptions {
  batchSize: number;
  /** Default false, as in PyTorch. */
  shuffle?: boolean;
  dropLast?: boolean;
  /** Default: ToTensor only. */
  transform?: TransformSpec;
  /** The experiment seed, or a generator whose streams to use (default seed 0). */
  seed?: number | Generator;
  /** Threads preparing batches in the background; 0 prepares them in the consumer's thread. */
  workers?: number;
  /** Batches prepared ahead of the consumer (default 2 per worker). */
  prefetch?: number;
  /** Keep the workers between epochs (default false: they stop at the end of each epoch). */
  persistentWorkers?: boolean;
  /** How workers rebuild the dataset; default datasetSpecOf(dataset). */
  datasetSpec?: DatasetSpec;
}

const loaderOptionsSchema = z.strictObject({
  batchSize: is.positiveInt,
  shuffle: z.boolean().optional(),
  dropLast: z.boolean().optional(),
  // Its steps are checked by validateTransformSpec, which names the step at fault.
  transform: z.looseObject({ steps: z.array(z.unknown()) }).optional(),
  seed: z.union([z.number().int(), is.generator]).optional(),
  workers: is.nonNegativeInt.optional(),
  prefetch: is.positiveInt.optional(),
  persistentWorkers: z.boolean().optional(),
  datasetSpec: z.looseObject({ kind: z.string() }).optional(),
});

/** The raw arrays of one batch, as they cross threads. */
export interface RawBatch {
  x: Float32Array;
  shape: [number, number, number, number];
  y: Int32Array;
}

/**
 * Prepares one batch: each item through the pipeline, in order, all drawing from `gen`.
 * Shared by the consumer thread and the workers so both compute the same bits.
 */
export function prepareBatch(ds: Dataset, indices: Int32Array, pipeline: Pipeline, spec: TransformSpec, gen: Generator, where: { epoch: number; batch: number }): RawBatch {
  const n = indices.length;
  const y = new Int32Array(n);
  // The batch's buffer, allocated for the first item's shape, which every other item must have.
  let batch: { x: Float32Array; shape: [number, number, number]; per: number } | null = null;
  for (let k = 0; k < n; k++) {
    const idx = at(indices, k, 'batch indices');
    try {
      const s = ds.get(idx);
      y[k] = s.label;
      // The result's shape is known before running the pipeline, so it can write into the batch.
      const out = transformedShape(spec, s.shape);
      if (batch === null) {
        const per = out[0] * out[1] * out[2];
        batch = { x: new Float32Array(n * per), shape: out, per };
      } else if (out[0] !== batch.shape[0] || out[1] !== batch.shape[1] || out[2] !== batch.shape[2]) {
        throw new LoaderError(`${ds.name}: item ${idx} comes out as [${out.join(', ')}] but batch ${where.batch} holds [${batch.shape.join(', ')}]; `
          + `add a resize/crop step so every image has one size`, { ...where, item: idx });
      }
      pipeline(s, gen, batch.x.subarray(k * batch.per, (k + 1) * batch.per));
    } catch (e) {
      if (e instanceof LoaderError) throw e;
      const file = (e as { file?: unknown } | null)?.file;
      throw new LoaderError(`${ds.name}: item ${idx} (epoch ${where.epoch}, batch ${where.batch}): ${(e as Error)?.message ?? String(e)}`,
        { ...where, item: idx, ...(typeof file === 'string' ? { file } : {}), cause: e });
    }
  }
  if (batch === null) {
    const [c, h, w] = ds.shape ? transformedShape(spec, ds.shape) : [0, 0, 0];
    return { x: new Float32Array(0), shape: [0, c, h, w], y };
  }
  const [c, h, w] = batch.shape;
  return { x: batch.x, shape: [n, c, h, w], y };
}

/** The generator a batch's augmentation draws from. */
export function augmentStream(root: Generator, epoch: number, batch: number): Generator {
  return root.stream(`augment/epoch-${epoch}/batch-${batch}`);
}

/** The order of epoch `epoch`: a permutation from stream `data-order/epoch-${epoch}`, or 0..n-1. */
export function epochOrder(root: Generator, n: number, epoch: number, shuffle: boolean): Int32Array {
  if (!shuffle) return Int32Array.from({ length: n }, (_, i) => i);
  return root.stream(`data-order/epoch-${epoch}`).permutation(n);
}

// Messages between the loader and its workers.
/** The first message to a loader worker: what to load and how to transform it. */
export interface WorkerInit { dataset: DatasetSpec; transform: TransformSpec; seed: number; path: string }
/** A batch a loader worker is asked to prepare. */
export interface WorkerTask { id: number; epoch: number; batch: number; indices: Int32Array }
/** A loader worker's answer: the prepared batch, or the error that stopped it. */
export type WorkerReply =
  | { id: number; ok: true; x: Float32Array; shape: [number, number, number, number]; y: Int32Array }
  | { id: number; ok: false; message: string; name: string; stack?: string; item?: number; file?: string };

interface Pending { resolve: (b: RawBatch) => void; reject: (e: Error) => void; task: WorkerTask }

/** One worker of a pool and the tasks it has not answered yet. */
interface Slot { index: number; worker: Worker; outstanding: Map<number, Pending> }

/** A fixed set of workers; each task goes to the one with the fewest outstanding. */
class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private failure: Error | null = null;
  private closed = false;

  constructor(count: number, init: WorkerInit) {
    const url = new URL('./loader-worker.js', import.meta.url);
    for (let w = 0; w < count; w++) {
      const worker = new Worker(url, { workerData: init });
      const slot: Slot = { index: w, worker, outstanding: new Map<number, Pending>() };
      worker.on('message', (m: WorkerReply) => this.onReply(slot, m));
      worker.on('error', (e) => this.fail(new Error(`data loader worker ${w} crashed: ${e?.message ?? e}`, { cause: e })));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`data loader worker ${w} exited unexpectedly (code ${code})`));
      });
      // Idle workers must not keep the process alive; busy ones must, or an awaited batch could be dropped.
      worker.unref();
      this.slots.push(slot);
    }
  }

  run(epoch: number, batch: number, indices: Int32Array): Promise<RawBatch> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('data loader: workers already stopped'));
    // The first of the least busy workers.
    const best = this.slots.reduce((a, b) => (b.outstanding.size < a.outstanding.size ? b : a));
    const task: WorkerTask = { id: this.nextId++, epoch, batch, indices };
    return new Promise<RawBatch>((resolve, reject) => {
      if (best.outstanding.size === 0) best.worker.ref();
      best.outstanding.set(task.id, { resolve, reject, task });
      best.worker.postMessage(task);
    });
  }

  private onReply(slot: Slot, m: WorkerReply): void {
    const mine = slot.outstanding;
    const p = mine.get(m.id);
    if (!p) return;
    mine.delete(m.id);
    if (mine.size === 0) slot.worker.unref();
    if (m.ok) {
      p.resolve({ x: m.x, shape: m.shape, y: m.y });
    } else {
      const err = new LoaderError(m.message, {
        epoch: p.task.epoch, batch: p.task.batch,
        ...(m.item === undefined ? {} : { item: m.item }), ...(m.file === undefined ? {} : { file: m.file }),
      });
      if (m.stack) err.stack = `${err.name}: ${m.message}\n    -- in data loader worker ${slot.index} --\n${m.stack.split('\n').slice(1).join('\n')}`;
      p.reject(err);
    }
  }

  private fail(e: Error): void {
    if (this.failure || this.closed) return;
    this.failure = e;
    for (const { outstanding } of this.slots) {
      for (const p of outstanding.values()) p.reject(e);
      outstanding.clear();
    }
    void this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { outstanding } of this.slots) {
      for (const p of outstanding.values()) p.reject(new Error('data loader: workers stopped'));
      outstanding.clear();
    }
    await Promise.all(this.slots.map(({ worker }) => worker.terminate()));
  }
}

/** Batches of a dataset, as torch.utils.data.DataLoader: seeded shuffling and augmentation per epoch, optional worker threads, the same bits either way. */
export class DataLoader {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly transform: TransformSpec;
  readonly workers: number;
  readonly prefetch: number;
  readonly persistentWorkers: boolean;
  private readonly root: Generator;
  private readonly pipeline: Pipeline;
  private spec: DatasetSpec | undefined;
  private pool: WorkerPool | null = null;

  constructor(dataset: Dataset, options: LoaderOptions) {
    checkArgument('DataLoader', 'dataset', isDataset, dataset);
    checkOptions('DataLoader', loaderOptionsSchema, options);
    const { batchSize } = options;
    const workers = options.workers ?? 0;
    const prefetch = options.prefetch ?? 2 * Math.max(workers, 1);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.transform = options.transform ?? { steps: [] };
    validateTransformSpec(this.transform);
    this.pipeline = compileTransform(this.transform);
    const seed = options.seed ?? 0;
    this.root = typeof seed === 'number' ? new Generator(seed) : seed;
    this.workers = workers;
    this.prefetch = prefetch;
    this.persistentWorkers = options.persistentWorkers ?? false;
    this.spec = options.datasetSpec;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The dataset indices of every batch of `epoch`, in order. */
  batchIndices(epoch: number): Int32Array[] {
    checkEpoch(epoch);
    const order = epochOrder(this.root, this.dataset.length, epoch, this.shuffle);
    const out: Int32Array[] = [];
    for (let b = 0; b < this.length; b++) out.push(order.slice(b * this.batchSize, Math.min((b + 1) * this.batchSize, order.length)));
    return out;
  }

  /** Prepares every batch in the calling thread. */
  *batchesSync(epoch: number): globalThis.Generator<Batch, void, undefined> {
    for (const [b, indices] of this.batchIndices(epoch).entries()) {
      const raw = prepareBatch(this.dataset, indices, this.pipeline, this.transform, augmentStream(this.root, epoch, b), { epoch, batch: b });
      yield { x: new Tensor(raw.x, raw.shape), y: raw.y, indices };
    }
  }

  /**
   * The batches of `epoch`. With workers, up to `prefetch` batches are being prepared while the
   * consumer works on the current one; leaving the loop early (break, throw) stops them.
   */
  async *batches(epoch: number): AsyncGenerator<Batch, void, undefined> {
    if (this.workers === 0) {
      yield* this.batchesSync(epoch);
      return;
    }
    const all = this.batchIndices(epoch);
    const pool = this.startPool();
    const pending = new Map<number, Promise<RawBatch>>();
    let next = 0;
    const topUp = (): void => {
      while (next < all.length && pending.size < this.prefetch) {
        const p = pool.run(epoch, next, at(all, next, 'batch indices'));
        // Batches abandoned by an early exit may fail later; nobody awaits them then.
        p.catch(() => undefined);
        pending.set(next, p);
        next++;
      }
    };
    let ok = false;
    try {
      for (const [b, indices] of all.entries()) {
        topUp();
        // topUp has started batch b: it starts batches in order, while fewer than `prefetch` wait.
        const raw = await defined(pending.get(b), 'data loader: the started batch');
        pending.delete(b);
        topUp();
        yield { x: new Tensor(raw.x, raw.shape), y: raw.y, indices };
      }
      ok = true;
    } finally {
      if (!this.persistentWorkers || !ok || pending.size > 0) await this.close();
    }
  }

  /** Stops the workers (they restart on the next epoch). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.close();
  }

  private startPool(): WorkerPool {
    if (this.pool) return this.pool;
    this.spec ??= datasetSpecOf(this.dataset);
    this.pool = new WorkerPool(this.workers, { dataset: this.spec, transform: this.transform, seed: this.root.seed, path: this.root.path });
    return this.pool;
  }
}

// The global Generator type (iterators) is shadowed by the random generator import.

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`DataLoader: epoch must be a non-negative integer, got ${epoch}`);
}
