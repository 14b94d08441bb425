// `pai data download` and `pai data info`: fetching the official archives, and what pai knows
// about a dataset (classes, shape, normalisation, where it looks, whether it is there).

import { Command } from 'commander';
import { resolve } from 'node:path';
import type { DatasetName } from '../../data/registry.js';
import type { DownloadableName } from '../../data/download.js';
import { UserError } from '../errors.js';
import { examples } from '../options.js';
import { startTask, type Task } from '../progress.js';

/** Where datasets live unless --data-dir says otherwise. */
export function defaultDataDir(): string {
  return process.env['PAI_DATA_DIR'] || 'data';
}

async function checkDataset(name: string): Promise<DatasetName> {
  const { isDatasetName, DATASET_NAMES } = await import('../../data/registry.js');
  if (!isDatasetName(name)) throw new UserError(`unknown dataset "${name}"; choose one of: ${DATASET_NAMES.join(', ')}`);
  return name;
}

export function register(program: Command): void {
  const data = program.command('data').description('download datasets and show what pai knows about them');

  const dl = data.command('download')
    .description('fetch a dataset\'s official archives, verify checksums and extract (fashion-mnist, cifar10, cifar100, tinyimagenet)')
    .argument('<name>', 'dataset name')
    .option('--data-dir <dir>', 'destination (default $PAI_DATA_DIR or ./data)', defaultDataDir())
    .option('--base-url <url>', 'fetch every file from this mirror instead of the canonical location')
    .option('--keep-archive', 'keep the archive after extracting it')
    .addHelpText('after', `
Downloads resume after a dropped connection; a dataset folder only appears once it is complete, so an
interrupted download never looks finished. Without network access the error says which files to place
where by hand. ImageNet needs an account at image-net.org and is not downloadable.`)
    .action(async (name: string, f: { dataDir: string; baseUrl?: string; keepArchive?: boolean }) => {
      await checkDataset(name);
      const { downloadDataset, DOWNLOADABLE } = await import('../../data/download.js');
      if (!(DOWNLOADABLE as readonly string[]).includes(name)) {
        throw new UserError(`${name} cannot be downloaded by pai${name === 'imagenet' ? ' (it needs an account at image-net.org; place it by hand)' : name === 'fashion-mnist-subset' ? ' (it ships with pai)' : ''}; downloadable: ${DOWNLOADABLE.join(', ')}`);
      }
      let task: Task | null = null;
      let current = '';
      const result = await downloadDataset(name as DownloadableName, {
        dataDir: f.dataDir,
        ...(f.baseUrl !== undefined ? { baseUrl: f.baseUrl } : {}),
        ...(f.keepArchive ? { keepArchive: true } : {}),
        onProgress: (p) => {
          let t = task;
          // A new file (the first one included) gets its own bar.
          if (p.file !== current || t === null) {
            t?.done();
            current = p.file;
            t = startTask(p.file, p.total ?? 0, { unit: 'MB', divisor: 1e6 });
            task = t;
          }
          t.update(p.bytes, p.total ?? p.bytes);
        },
      });
      (task as Task | null)?.done();
      process.stdout.write(result.fetched.length
        ? `${name}: downloaded ${result.fetched.length} file(s); ready at ${result.path}\n`
        : `${name}: already present at ${result.path}\n`);
    });
  examples(dl, ['pai data download fashion-mnist', 'pai data download cifar10 --data-dir ~/datasets']);

  const info = data.command('info')
    .description('classes, image shape, normalisation and download sources of a dataset; --check loads it')
    .argument('<name>', 'dataset name (fashion-mnist, fashion-mnist-subset, mnist, cifar10, cifar100, tinyimagenet, imagenet)')
    .option('--data-dir <dir>', 'where to look (default $PAI_DATA_DIR or ./data)', defaultDataDir())
    .option('--check', 'load the train and test splits and report their sizes (or why they cannot be loaded)')
    .option('--json', 'print as JSON')
    .action(async (name: string, f: { dataDir: string; check?: boolean; json?: boolean }) => {
      const { datasetInfo, loadDataset } = await import('../../data/registry.js');
      const { downloadSources, DOWNLOADABLE } = await import('../../data/download.js');
      const i = datasetInfo(await checkDataset(name));
      const sources = (DOWNLOADABLE as readonly string[]).includes(name) ? downloadSources(name as DownloadableName, f.dataDir) : [];
      const splits: Record<string, string | number> = {};
      if (f.check) {
        for (const split of i.splits) {
          try {
            splits[split] = loadDataset(i.name, split, { dataDir: f.dataDir }).length;
          } catch (e) {
            splits[split] = `unavailable: ${(e as Error).message}`;
          }
        }
      }
      const facts = {
        name: i.name, classes: i.numClasses, shape: i.shape ? i.shape.join('x') : 'varies', mean: i.mean.join(', '), std: i.std.join(', '),
        splits: i.splits.join(', '), dataDir: resolve(f.dataDir),
        ...(i.classNames ? { classNames: i.classNames.join(', ') } : {}),
        ...(sources.length ? { download: sources.map((s) => `${s.url} -> ${s.dest}`).join('; ') } : {}),
        ...(f.check ? Object.fromEntries(Object.entries(splits).map(([k, v]) => [`${k} images`, v])) : {}),
      };
      if (f.json) { process.stdout.write(`${JSON.stringify(facts, null, 2)}\n`); return; }
      const w = Math.max(...Object.keys(facts).map((k) => k.length));
      for (const [k, v] of Object.entries(facts)) process.stdout.write(`${k.padEnd(w)}  ${String(v)}\n`);
    });
  examples(info, ['pai data info cifar10', 'pai data info fashion-mnist-subset --check']);
  examples(data, ['pai data download fashion-mnist', 'pai data info cifar10 --check']);
}
