// The consumer test: pai as a user gets it from the registry. It copies the checkout's files as git
// sees them (tracked and untracked-but-not-ignored: no dist/, build/ or node_modules/) into a
// temporary folder, packs that with `npm pack` (prepack compiles the library), installs the tarball
// into a fresh project with `npm install --offline` (everything from the npm cache that `npm ci`
// filled; nothing from the network), type-checks and runs the README's library example
// (examples/library.ts) there, and runs `npx pai --version`, `npx pai models` and one `pai prune`
// on the shipped subset. Any failure ends it with a non-zero status and the step that failed.
//
//   node scripts/consumer-test.mjs [--keep]      (--keep leaves the temporary folder for a look)

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'pai-consumer-'));
const t0 = performance.now();
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function fail(step, detail) {
  console.error(`consumer test FAILED at: ${step}\n${detail ?? ''}`);
  console.error(`(files kept in ${work})`);
  process.exit(1);
}

/** Runs a command, prints its output when it fails (or always, with echo), returns stdout. */
function run(step, cmd, args, opts = {}) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts, env: { ...process.env, ...opts.env } });
  const secs = ((performance.now() - t) / 1000).toFixed(1);
  if (r.error || r.status !== 0) fail(step, `$ ${cmd} ${args.join(' ')}\n(exit ${r.status ?? r.error?.message})\n${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  console.log(`ok ${step} (${secs} s)`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function check(step, ok, detail) {
  if (!ok) fail(step, detail);
  console.log(`ok ${step}`);
}

// npm must not warn about anything pai controls (unknown configs, unreviewed install scripts).
function noWarnings(step, stderr) {
  const warns = stderr.split('\n').filter((l) => /\bwarn\b/i.test(l));
  check(`${step}: no npm warnings`, warns.length === 0, warns.join('\n'));
}

// 1. The clean checkout: the files git would hand a fresh clone, as they are in the working tree.
const src = join(work, 'checkout');
const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\0').filter((f) => f && existsSync(join(root, f)));
for (const f of listed) {
  mkdirSync(dirname(join(src, f)), { recursive: true });
  cpSync(join(root, f), join(src, f));
}
check('clean checkout has no build output', !existsSync(join(src, 'dist')) && !existsSync(join(src, 'build')), 'dist/ or build/ came along');
// Its development tools (tsc for prepack) are the ones `npm ci` installed here.
symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'), 'dir');

// 2. npm pack: prepack compiles src/ into dist/src/; the files whitelist decides the rest.
const packed = run('npm pack', npm, ['pack', '--json', '--pack-destination', work], { cwd: src });
const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0];
const tarball = join(work, info.filename);
const files = info.files.map((f) => f.path);
console.log(`   ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${files.length} files`);
noWarnings('npm pack', packed.stderr);
for (const want of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/src/data/loader-worker.js', 'native/addon.cc', 'binding.gyp',
  'scripts/build-native.mjs', 'data/fashion-mnist-subset/checksums.json', 'data/fashion-mnist-subset/train-images-idx3-ubyte.gz', 'README.md', 'LICENSE', 'CHANGELOG.md', 'package.json']) {
  check(`package holds ${want}`, files.includes(want), files.join('\n'));
}
const stray = files.filter((f) => /^(dist\/(test|bench)|test|bench|src|examples|results|configs)\/|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts'));
check('package holds no tests, benchmarks, sources or source maps', stray.length === 0, stray.join('\n'));

// 3. A fresh project that depends on the tarball, installed from the npm cache only.
const app = join(work, 'app');
mkdirSync(app);
const devVersion = (name) => pkg.devDependencies[name];
writeFileSync(join(app, 'package.json'), `${JSON.stringify({
  name: 'pai-consumer', private: true, type: 'module',
  dependencies: { [pkg.name]: `file:${tarball}` },
  devDependencies: { typescript: devVersion('typescript'), '@types/node': devVersion('@types/node') },
  // npm 11 asks a project to review the install scripts of its dependencies: pai's builds its addon.
  allowScripts: { [`${pkg.name}@${pkg.version}`]: true, [`file:${tarball}`]: true },
}, null, 2)}\n`);
// The lockfile is the checkout's own, so npm takes every dependency from the tarballs `npm ci`
// cached instead of asking the registry which versions exist; unreachable entries are pruned.
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const appPkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
const packages = { '': { name: appPkg.name, dependencies: appPkg.dependencies, devDependencies: appPkg.devDependencies } };
for (const [k, v] of Object.entries(lock.packages)) if (k !== '') packages[k] = v;
packages[`node_modules/${pkg.name}`] = {
  version: pkg.version, resolved: `file:${tarball}`, license: pkg.license, hasInstallScript: true,
  dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
};
writeFileSync(join(app, 'package-lock.json'), `${JSON.stringify({ name: appPkg.name, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
const installed = run('npm install --offline', npm, ['install', '--offline', '--no-audit', '--no-fund'], { cwd: app });
noWarnings('npm install', installed.stderr);
const home = join(app, 'node_modules', pkg.name);
const addonHere = existsSync(join(root, 'build', 'Release', 'pai_native.node'));
const addonThere = existsSync(join(home, 'build', 'Release', 'pai_native.node'));
// Where the checkout's own addon built, the installed copy must have built it too.
check(`install built the native addon (${addonThere ? 'yes' : 'no'}; here: ${addonHere ? 'yes' : 'no'})`, addonThere || !addonHere,
  existsSync(join(home, 'build', 'native-build.log')) ? readFileSync(join(home, 'build', 'native-build.log'), 'utf8').slice(-3000) : '(no build log)');

// 4. The README's example, type-checked by tsc against the package's declarations, then run.
const example = readFileSync(join(root, 'examples', 'library.ts'), 'utf8');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
check('README shows examples/library.ts verbatim', readme.includes(`\`\`\`ts\n${example}\`\`\``), 'the README\'s ```ts block differs from examples/library.ts');
writeFileSync(join(app, 'example.ts'), example);
writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify({
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out', skipLibCheck: false },
  files: ['example.ts'],
}, null, 2)}\n`);
run('tsc type-checks the example', process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app });
const ran = run('the example runs', process.execPath, [join(app, 'out', 'example.js')], { cwd: app });
process.stdout.write(ran.stdout.trimEnd().replace(/^/gm, '   ') + '\n');
check('the example wrote its masks', existsSync(join(app, 'masks.safetensors')) && statSync(join(app, 'masks.safetensors')).size > 0, ran.stdout);
check('the example trained and pruned', /kept \d+ of \d+ prunable weights/.test(ran.stdout) && /trained 5 steps/.test(ran.stdout), ran.stdout);

// 5. The command, as npx finds it in the project.
const npx = (step, args) => run(step, npm, ['exec', '--offline', '--no', '--', 'pai', ...args], { cwd: app });
const version = npx('npx pai --version', ['--version']).stdout.trim();
check(`pai --version says ${pkg.version}`, version === pkg.version, `got ${JSON.stringify(version)}`);
const models = npx('npx pai models', ['models']).stdout;
check('pai models lists the zoo', /resnet20/.test(models) && /lenet5/.test(models), models);
const out = join(app, 'run-lenet-snip');
npx('npx pai prune on the shipped subset', ['prune', '--model', 'lenet5', '--dataset', 'fashion-mnist-subset', '--criterion', 'snip', '--sparsity', '0.9', '--out', out]);
const written = existsSync(out) ? readdirSync(out) : [];
check('pai prune wrote weights, masks and its report', ['masks.safetensors', 'model.safetensors', 'report.json'].every((f) => written.includes(f)), written.join(', '));

console.log(`consumer test passed in ${((performance.now() - t0) / 1000).toFixed(0)} s (${info.filename}: ${info.size} bytes, ${files.length} files)`);
if (!keep) rmSync(work, { recursive: true, force: true });
