// The thread side of DataLoader: rebuilds the dataset and pipeline once, then prepares the batches
// it is sent with the same code (prepareBatch) and the same random streams as the consumer thread.

import { parentPort, workerData } from 'node:worker_threads';
import { Generator } from '../tensor/random.js';
import { compileTransform } from './transforms.js';
import { augmentStream, datasetFromSpec, LoaderError, prepareBatch, type WorkerInit, type WorkerReply, type WorkerTask } from './loader.js';

const init = workerData as WorkerInit;
if (!parentPort) throw new Error('loader-worker.js runs as a worker thread of DataLoader');
const port = parentPort;
const root = new Generator(init.seed, init.path);
const pipeline = compileTransform(init.transform);
// Loading can fail (a missing file): every task then answers with that error, so the consumer reports it.
const dataset = datasetFromSpec(init.dataset).catch((e: unknown) => {
  const name = 'name' in init.dataset ? init.dataset.name : 'subset';
  throw new LoaderError(`data loader worker could not load dataset ${name}: ${(e as Error)?.message ?? String(e)}`, { epoch: -1, batch: -1, cause: e });
});
dataset.catch(() => undefined);

port.on('message', (task: WorkerTask) => {
  dataset.then((ds) => {
    const raw = prepareBatch(ds, task.indices, pipeline, init.transform, augmentStream(root, task.epoch, task.batch), { epoch: task.epoch, batch: task.batch });
    const reply: WorkerReply = { id: task.id, ok: true, x: raw.x, shape: raw.shape, y: raw.y };
    port.postMessage(reply, [raw.x.buffer as ArrayBuffer, raw.y.buffer as ArrayBuffer]);
  }).catch((e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    const reply: WorkerReply = {
      id: task.id, ok: false, name: err.name, message: err.message,
      ...(err.stack === undefined ? {} : { stack: err.stack }),
      ...(err instanceof LoaderError && err.item !== undefined ? { item: err.item } : {}),
      ...(err instanceof LoaderError && err.file !== undefined ? { file: err.file } : {}),
    };
    port.postMessage(reply);
  });
});
