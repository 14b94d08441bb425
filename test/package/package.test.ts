// The package as shipped: one name and one version everywhere, the README's example and the
// Dockerfile in step with the code. (scripts/consumer-test.mjs installs and runs the packed package.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_NAME, paiImage, paiVersion } from '../../src/experiment/version.js';
import { emitK8s, emitSlurm } from '../../src/experiment/shard.js';
import { pai } from '../cli/run.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string; version: string; bin: Record<string, string>; types: string; files: string[];
  exports: Record<string, unknown>; scripts: Record<string, string>; devDependencies: Record<string, string>;
};
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('pai --version and package.json agree, and the CHANGELOG has the version', async () => {
  assert.equal(pkg.name, PACKAGE_NAME);
  assert.notEqual(pkg.name, 'pai', 'the name pai is taken on the npm registry');
  assert.equal(paiVersion(), pkg.version);
  const r = await pai(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
  const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
  assert.match(changelog, new RegExp(`^## ${pkg.version.replace(/\./g, '\\.')}\\b`, 'm'), `CHANGELOG.md has no "## ${pkg.version}" section`);
});

test('the package keeps the pai command and ships only the library, natives, data and docs', () => {
  assert.equal(pkg.bin['pai'], 'dist/src/cli/main.js');
  assert.equal(pkg.types, 'dist/src/index.d.ts');
  assert.deepEqual(pkg.exports['.'], { types: './dist/src/index.d.ts', default: './dist/src/index.js' });
  assert.equal(pkg.scripts['install'], 'node scripts/build-native.mjs');
  assert.match(pkg.scripts['prepack']!, /build:lib/);
  for (const f of pkg.files) assert.doesNotMatch(f, /^(dist\/?$|dist\/(test|bench)|test|bench|src)/, `files lists ${f}`);
  for (const f of ['LICENSE', 'CHANGELOG.md', 'README.md', 'binding.gyp', 'scripts/build-native.mjs', 'Dockerfile']) assert.ok(existsSync(join(root, f)), `${f} is missing`);
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /^MIT License/);
});

test("the README's library example is examples/library.ts, word for word", () => {
  const example = readFileSync(join(root, 'examples', 'library.ts'), 'utf8');
  assert.ok(readme.includes('```ts\n' + example + '```'), "README.md's ```ts block differs from examples/library.ts");
  assert.match(example, new RegExp(`from '${PACKAGE_NAME}'`));
});

test('the README, the Dockerfile and the job files name one image', () => {
  const image = paiImage();
  assert.equal(image, `${pkg.name}:${pkg.version}`);
  assert.ok(readme.includes(`docker build -t ${image} .`), `README.md does not show how to build ${image}`);
  assert.ok(readFileSync(join(root, 'Dockerfile'), 'utf8').includes(`docker build -t ${image} .`));
  const job = emitK8s({ config: 'a.json', store: 'r', count: 2, name: 'x', configFiles: { 'a.json': '{}' } });
  assert.match(job, new RegExp(`image: ${image.replace(/\./g, '\\.')}\\n`));
  const sbatch = emitSlurm({ config: '/c/a.json', store: '/s/r', count: 2, name: 'x' });
  assert.ok(sbatch.includes(`--image ${image}`), sbatch);
  const contained = emitSlurm({ config: '/c/a.json', store: '/s/r', count: 2, name: 'x', image });
  assert.ok(contained.includes(`apptainer exec --bind /s/r --bind /c docker://${image} pai `), contained);
});

test('npm is told not to run onnxruntime-node\'s download step, without an unknown config', () => {
  const raw = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(raw.allowScripts?.['onnxruntime-node'], false);
  assert.ok(!existsSync(join(root, '.npmrc')) || !/onnxruntime-node-install/.test(readFileSync(join(root, '.npmrc'), 'utf8')));
});
