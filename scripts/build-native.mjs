// Builds the native backend (binding.gyp) during `npm install` / `npm ci`. The native backend is an
// accelerator, not a requirement: when it cannot be built (no compiler, no oneDNN headers, no Node
// headers) this prints one warning line and exits 0, so installation succeeds and pai falls back to
// its TypeScript backend. PAI_SKIP_NATIVE=1 skips the build. The full compiler log of the last
// attempt is kept in build/native-build.log.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function warn(reason) {
  console.warn(`pai: native backend unavailable (${reason}); using the TypeScript backend.`);
  process.exit(0);
}

if (process.env.PAI_SKIP_NATIVE === '1') warn('PAI_SKIP_NATIVE=1');

// The addon's entry points and op codes come from the kernel declaration (native/*.gen.h); they are
// committed, and refreshed here so that a build never compiles stale ones. An installed package
// ships the generated headers without the generator and its declaration: nothing to refresh there.
if (existsSync(join(root, 'scripts', 'gen-kernels.mjs')) && existsSync(join(root, 'src', 'kernels', 'declarations.mjs'))) {
  try {
    const { run: generateSeam } = await import('./gen-kernels.mjs');
    generateSeam();
  } catch (e) {
    warn(`the kernel seam could not be generated: ${e instanceof Error ? e.message : String(e)}`);
  }
}
if (process.platform !== 'linux' || process.arch !== 'x64') warn(`unsupported platform ${process.platform}-${process.arch}, needs linux-x64`);

// npm sets npm_config_node_gyp to its bundled node-gyp when it runs an install script.
const candidates = [process.env.npm_config_node_gyp, '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'];
const nodeGyp = candidates.find((p) => p && existsSync(p));
if (!nodeGyp) warn('node-gyp not found');

// Offline builds need Node's headers locally: npm passes its `nodedir` config through the
// environment; run by hand, use the headers that ship next to this node binary when present.
const args = [nodeGyp, 'rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}

const res = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const log = `${res.stdout ?? ''}\n${res.stderr ?? ''}`;
try {
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(join(root, 'build', 'native-build.log'), log);
} catch {
  // The log is a convenience; failing to write it must not fail the install.
}

if (res.error) warn(`could not run node-gyp: ${res.error.message}`);
if (res.status !== 0 || !existsSync(join(root, 'build', 'Release', 'pai_native.node'))) {
  // Name the usual causes plainly; otherwise quote the first compiler, linker or gyp error.
  const lines = log.split('\n');
  const known = [
    [/dnnl\.hpp: No such file/, 'oneDNN headers not found (oneapi/dnnl/dnnl.hpp): install libdnnl-dev'],
    [/cannot find -ldnnl/, 'oneDNN library not found (libdnnl.so): install libdnnl-dev'],
    [/node_api\.h: No such file/, 'Node.js headers not found: set npm nodedir or install the node headers'],
    [/omp\.h: No such file|cannot find -lgomp/, 'OpenMP (libgomp) not found'],
  ];
  const hit = known.find(([re]) => re.test(log));
  const first =
    hit?.[1] ??
    lines.find((l) => /fatal error|error:|cannot find -l|undefined reference/.test(l)) ??
    lines.find((l) => /^\w+Error: /.test(l)) ??
    lines.find((l) => /gyp ERR! stack \w*Error:/.test(l))?.replace(/^gyp ERR! stack /, '') ??
    lines.find((l) => /gyp ERR!/.test(l)) ??
    `node-gyp exited with status ${res.status}`;
  warn(`build failed: ${first.trim().slice(0, 300)}; see build/native-build.log`);
}
console.log('pai: native backend built (build/Release/pai_native.node)');
