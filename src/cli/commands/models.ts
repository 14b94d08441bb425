// `pai models`: the zoo with parameter counts. Counts come from the registry's arithmetic, not
// from building models, so this stays instant even with ViT-Base in the list.

import type { Command } from 'commander';
import type { CreateOptions } from '../../models/registry.js';
import { examples, parseInteger, parseWidth, table } from '../options.js';

interface Flags { width?: string; numClasses?: string; inChannels?: string; imageSize?: string; json?: boolean }

export function register(program: Command): void {
  const cmd = program.command('models')
    .description('list the models with their parameter counts and default input')
    .option('--width <w>', 'count at this width multiplier (1/16 or 0.0625)')
    .option('--num-classes <c>', 'count with this many classes')
    .option('--in-channels <i>', 'count with this many input channels')
    .option('--image-size <s>', 'count at this input side')
    .option('--json', 'print as JSON')
    .action(async (f: Flags) => {
      const { countParameters, listModels } = await import('../../models/registry.js');
      const o: CreateOptions = {};
      if (f.width !== undefined) o.width = parseWidth(f.width);
      if (f.numClasses !== undefined) o.numClasses = parseInteger('--num-classes', f.numClasses, 1);
      if (f.inChannels !== undefined) o.inChannels = parseInteger('--in-channels', f.inChannels, 1);
      if (f.imageSize !== undefined) o.imageSize = parseInteger('--image-size', f.imageSize, 1);
      const custom = Object.keys(o).length > 0;
      const rows = listModels().map((m) => {
        let count: number | null = m.parameterCount;
        // Some models cannot take some options (a ViT whose patch does not divide the side): show a dash.
        if (custom) { try { count = countParameters(m.name, o); } catch { count = null; } }
        const d = { ...m.defaultOptions, ...o };
        return { name: m.name, parameters: count, input: `${d.inChannels}x${d.imageSize}x${d.imageSize}`, classes: d.numClasses, description: m.description };
      });
      if (f.json) { process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`); return; }
      process.stdout.write(`${table(['model', 'parameters', 'input', 'classes', 'description'],
        rows.map((r) => [r.name, r.parameters === null ? '-' : r.parameters.toLocaleString('en-US'), r.input, String(r.classes), r.description]),
        new Set([1, 3]))}\n`);
    });
  examples(cmd, ['pai models', 'pai models --width 1/8 --in-channels 1 --image-size 28', 'pai models --json']);
}
