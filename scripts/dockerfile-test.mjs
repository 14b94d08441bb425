// Runs the Dockerfile's steps without an image builder, for machines where none can run (no
// registry to pull node:20-bookworm from, no user namespaces). Each stage becomes a folder under a
// temporary root: `FROM <stage>` starts from a (hard-linked) copy of that stage's folder, `COPY . .`
// copies the files git would hand a fresh clone, `COPY --from=<stage>` copies between folders, and
// every RUN runs with bash in its stage's folder, with the image's paths (/opt/pai, /usr/local/bin,
// /work) mapped onto folders of that stage. apt-get steps are checked rather than run where their
// packages are already installed (and run only as root otherwise). Then, as `docker run IMAGE` would,
// it runs `pai --version` and `pai demo --quick` from the final stage with its `pai` on the PATH.
//
//   node scripts/dockerfile-test.mjs [--skip-tests] [--keep]
//
// --skip-tests replaces the test stage's `npm test` by `true` (and says so): .ci/run passes it
// because it has just run the same suite on the same checkout.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const skipTests = process.argv.includes('--skip-tests');
const keep = process.argv.includes('--keep');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'pai-dockerfile-'));
const t0 = performance.now();

function fail(what, detail = '') {
  console.error(`Dockerfile test FAILED: ${what}\n${detail}\n(files kept in ${work})`);
  process.exit(1);
}

// ---- parse: instructions with their continuation lines joined, comments dropped ----
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
const instructions = [];
let pending = '';
for (const raw of text.split('\n')) {
  const line = raw.trim();
  if (pending === '' && (line === '' || line.startsWith('#'))) continue;
  if (line.endsWith('\\')) { pending += `${line.slice(0, -1)} `; continue; }
  const full = pending + line;
  pending = '';
  const m = /^([A-Z]+)\s+(.*)$/.exec(full);
  if (!m) fail(`cannot parse Dockerfile line: ${full}`);
  instructions.push({ op: m[1], arg: m[2] });
}

const stages = [];
for (const ins of instructions) {
  if (ins.op === 'FROM') {
    const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.arg);
    stages.push({ from: m[1], name: m[2] ?? `stage-${stages.length}`, steps: [] });
  } else {
    if (stages.length === 0) fail(`${ins.op} before the first FROM`);
    stages.at(-1).steps.push(ins);
  }
}

// ---- what the Dockerfile must say ----
const names = stages.map((s) => s.name);
const bases = stages.filter((s) => !names.includes(s.from)).map((s) => s.from);
for (const b of bases) if (!/^node:20-bookworm(-slim)?$/.test(b)) fail(`base image ${b}: expected Debian 12 with Node 20 (node:20-bookworm or -slim)`);
const runs = (s) => s.steps.filter((i) => i.op === 'RUN').map((i) => i.arg).join('\n');
const all = stages.map(runs).join('\n');
for (const [what, re] of [['installs oneDNN from apt', /apt-get install[^\n]*libdnnl-dev/], ['runs npm ci', /\bnpm ci\b/], ['builds', /npm run build/], ['runs the test suite', /\bnpm test\b/]]) {
  if (!re.test(all)) fail(`the Dockerfile no longer ${what}`);
}
const final = stages.at(-1);
const testStage = stages.find((s) => /\bnpm test\b/.test(runs(s)));
if (!final.steps.some((i) => i.op === 'COPY' && i.arg.includes(`--from=${testStage.name}`))) {
  fail(`the final stage does not take anything from the test stage (${testStage.name}), so a builder would skip the tests`);
}
console.log(`ok Dockerfile: ${stages.length} stages (${names.join(', ')}) on ${[...new Set(bases)].join(', ')}`);

// ---- run ----
const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\0').filter((f) => f && existsSync(join(root, f)));
const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const dockerIgnored = (f) => ignored.some((p) => (p.startsWith('*') ? f.endsWith(p.slice(1)) : f === p || f.startsWith(`${p}/`)));

const dirs = new Map();
// A stage built FROM another inherits its working folder and environment, as in an image.
const configs = new Map();
for (const stage of stages) {
  const dir = join(work, stage.name);
  const parent = configs.get(stage.from) ?? { workdir: '/', env: {} };
  if (dirs.has(stage.from)) execFileSync('cp', ['-al', dirs.get(stage.from), dir]);
  else mkdirSync(dir, { recursive: true });
  dirs.set(stage.name, dir);
  const config = { workdir: parent.workdir, env: { ...parent.env } };
  configs.set(stage.name, config);
  const map = (p) => p.replaceAll('/opt/pai', join(dir, 'opt/pai')).replaceAll('/usr/local/bin', join(dir, 'usr/local/bin')).replace(/(^|\s)\/work(\s|$)/g, `$1${join(dir, 'work')}$2`);
  mkdirSync(join(dir, 'usr/local/bin'), { recursive: true });
  const env = { ...process.env, ...config.env, PATH: `${join(dir, 'usr/local/bin')}:${process.env.PATH}` };
  let cwd = join(dir, config.workdir);
  for (const { op, arg } of stage.steps) {
    const t = performance.now();
    if (op === 'ARG' || op === 'CMD' || op === 'ENTRYPOINT' || op === 'LABEL') continue;
    if (op === 'ENV') {
      const m = /^(\w+)=(.*)$/.exec(arg);
      if (!m) fail(`ENV ${arg}: expected KEY=VALUE`);
      env[m[1]] = m[2];
      config.env[m[1]] = m[2];
    } else if (op === 'WORKDIR') {
      cwd = map(arg);
      config.workdir = arg;
      mkdirSync(cwd, { recursive: true });
    } else if (op === 'COPY' && arg === '. .') {
      for (const f of listed.filter((x) => !dockerIgnored(x))) {
        mkdirSync(dirname(join(cwd, f)), { recursive: true });
        cpSync(join(root, f), join(cwd, f));
      }
    } else if (op === 'COPY' && arg.startsWith('--from=')) {
      const [from, src, dst] = arg.replace('--from=', '').split(/\s+/);
      if (!dirs.has(from)) fail(`COPY --from=${from}: no such stage`);
      const source = join(dirs.get(from), src.replace(/^\//, ''));
      if (!existsSync(source)) fail(`COPY --from=${from} ${src}: not there`);
      cpSync(source, map(dst), { recursive: true });
    } else if (op === 'RUN' && /^apt-get /.test(arg)) {
      const wanted = /apt-get install ([^&]*)/.exec(arg)[1].split(/\s+/).filter((w) => w && !w.startsWith('-'));
      const missing = wanted.filter((p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0);
      if (missing.length > 0 && process.getuid?.() !== 0) fail(`${stage.name}: apt packages ${missing.join(', ')} are not installed (run as root to install them)`);
      if (missing.length > 0) {
        // The same command without the cleanup of /var/lib/apt/lists, which belongs to this machine.
        const cmd = arg.split('&&').map((c) => c.trim()).filter((c) => !c.startsWith('rm ')).join(' && ');
        const r = spawnSync('bash', ['-euo', 'pipefail', '-c', cmd], { stdio: 'inherit', env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
        if (r.status !== 0) fail(`${stage.name}: RUN ${cmd}`);
      }
      console.log(`ok ${stage.name}: apt packages ${wanted.join(' ')} ${missing.length ? `installed (${missing.join(', ')})` : 'present'}`);
      continue;
    } else if (op === 'RUN') {
      let cmd = map(arg);
      if (skipTests && /\bnpm test\b/.test(cmd)) {
        cmd = cmd.replace(/\bnpm test\b/, 'true');
        console.log(`-- ${stage.name}: npm test skipped (--skip-tests)`);
      }
      console.log(`.. ${stage.name}: RUN ${arg}`);
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', cmd], { cwd, env, stdio: 'inherit' });
      if (r.status !== 0) fail(`${stage.name}: RUN ${arg} (exit ${r.status})`);
    } else {
      fail(`${stage.name}: ${op} ${arg} is not one this script knows how to run`);
    }
    console.log(`ok ${stage.name}: ${op} ${arg.length > 90 ? `${arg.slice(0, 87)}...` : arg} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }
}

// ---- docker run IMAGE pai ...: the final stage's pai, from its working folder ----
const image = dirs.get(final.name);
const env = { ...process.env, PATH: `${join(image, 'usr/local/bin')}:${process.env.PATH}` };
const pai = (args) => spawnSync('pai', args, { cwd: join(image, 'work'), env, encoding: 'utf8', maxBuffer: 64 << 20 });
const v = pai(['--version']);
if (v.status !== 0 || v.stdout.trim() !== pkg.version) fail(`pai --version in the image: ${JSON.stringify(v.stdout.trim())} (exit ${v.status}), expected ${pkg.version}`, v.stderr);
console.log(`ok image: pai --version = ${pkg.version}`);
if (existsSync(join(image, 'opt/pai/node_modules/typescript'))) fail('the image still holds dev dependencies (typescript)');
const t = performance.now();
const demo = pai(['demo', '--quick', '--out', 'demo']);
if (demo.status !== 0) fail(`pai demo --quick in the image (exit ${demo.status})`, `${demo.stdout.slice(-3000)}\n${demo.stderr.slice(-3000)}`);
if (!existsSync(join(image, 'work', 'demo', 'report.md'))) fail('pai demo --quick wrote no report.md', demo.stdout.slice(-2000));
console.log(`ok image: pai demo --quick (${((performance.now() - t) / 1000).toFixed(0)} s, report.md written)`);
console.log(`Dockerfile test passed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (!keep) rmSync(work, { recursive: true, force: true });
