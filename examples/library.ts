import { Generator, createModel, data, pruneAtInit, saveTensors, trainModel } from 'pai-prune';

// The Fashion-MNIST subset that ships with pai, normalised like the full set.
const train = data.loadDataset('fashion-mnist-subset', 'train');
const { mean, std } = data.datasetInfo('fashion-mnist-subset');
const evalTransform = data.standardTransform('fashion-mnist', 'eval', { mean, std });

// A ResNet-20 at width 1/4, initialised from seed 0.
const model = createModel('resnet20', { width: 0.25, inChannels: 1, imageSize: 28, seed: 0 });

// The mask subset: 10 images per class, drawn from the seed's 'mask-subset' stream.
const { x, y } = data.maskSubsetBatch(train, { perClass: 10, gen: new Generator(0), transform: evalTransform });

// Score with FTS (|θ ⊙ g + ½ θ² ⊙ F|, F the empirical Fisher diagonal), keep 10 % of the
// prunable weights, and set the others to zero.
const { masks, report, warnings } = pruneAtInit(model, { criterion: 'fts', sparsity: 0.9, data: { x, y } });
console.log(`kept ${report.kept} of ${report.total} prunable weights`, ...warnings);

// Train the sparse network for a few steps (5 batches of 64): pruned weights stay exactly zero.
const few = new data.SubsetDataset(train, Int32Array.from({ length: 320 }, (_, i) => i));
const loader = new data.DataLoader(few, { batchSize: 64, shuffle: true, seed: 0, transform: data.standardTransform('fashion-mnist', 'train', { mean, std }) });
const result = await trainModel(model, { train: loader, epochs: 1, masks, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } });
console.log(`trained ${result.steps} steps, last loss ${result.last.train_loss.toFixed(3)}`);

// Save the masks (1 = keep) as safetensors with PyTorch's parameter names.
saveTensors('masks.safetensors', masks);
console.log(`wrote masks.safetensors (${masks.size} tensors)`);
