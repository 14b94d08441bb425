// Downloads of the official dataset archives. A file is fetched into `<file>.part`, resumed with an
// HTTP Range request after a dropped connection (restarted when the server ignores Range), and
// renamed to its final name only once its checksum passes. Archives are extracted into a temporary
// folder beside the target and renamed into place, so a dataset folder that exists is complete.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve, dirname } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { z } from 'zod';
import { checkOptions, is } from '../tensor/options.js';
import { DataError } from './dataset.js';
import { FASHION_MNIST_SHA256 } from './readers/idx.js';
import { isDir, isFile } from './readers/files.js';

/** The datasets `downloadDataset` can fetch. */
export type DownloadableName = 'fashion-mnist' | 'cifar10' | 'cifar100' | 'tinyimagenet';

type Check = { algo: 'md5'; value: string } | { algo: 'sha256-gunzip'; value: string } | null;

interface RemoteFile { name: string; url: string; check: Check }

interface PlanBase {
  title: string;
  /** The folder under dataDir that holds the dataset once done. */
  folder: string;
}

/** Files kept as they are, in `folder`. */
interface FilesPlan extends PlanBase {
  kind: 'files';
  files: RemoteFile[];
}

/** One archive, extracted into `folder`. */
interface ArchivePlan extends PlanBase {
  kind: 'tar.gz' | 'zip';
  files: [RemoteFile];
}

/** How the downloaded files become `folder`: extracted from an archive, or kept as they are. */
type Plan = FilesPlan | ArchivePlan;

const FMNIST_HOST = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com';
const KRIZ = 'https://www.cs.toronto.edu/~kriz';

const PLANS: Readonly<Record<DownloadableName, Plan>> = {
  'fashion-mnist': {
    title: 'Fashion-MNIST', folder: 'fashion-mnist', kind: 'files',
    files: Object.entries(FASHION_MNIST_SHA256).map(([stem, value]) => ({
      name: `${stem}.gz`, url: `${FMNIST_HOST}/${stem}.gz`, check: { algo: 'sha256-gunzip', value },
    })),
  },
  cifar10: {
    title: 'CIFAR-10', folder: 'cifar-10-batches-bin', kind: 'tar.gz',
    files: [{ name: 'cifar-10-binary.tar.gz', url: `${KRIZ}/cifar-10-binary.tar.gz`, check: { algo: 'md5', value: 'c32a1d4ab5d03f1284b67883e8d87530' } }],
  },
  cifar100: {
    title: 'CIFAR-100', folder: 'cifar-100-binary', kind: 'tar.gz',
    files: [{ name: 'cifar-100-binary.tar.gz', url: `${KRIZ}/cifar-100-binary.tar.gz`, check: { algo: 'md5', value: '03b5dce01913d631647c71ecec9e9cb8' } }],
  },
  // No checksum is published with the archive; the zip's own structure and the reader's checks
  // (wnids.txt, every class folder) are what catch a bad download.
  tinyimagenet: {
    title: 'TinyImageNet', folder: 'tiny-imagenet-200', kind: 'zip',
    files: [{ name: 'tiny-imagenet-200.zip', url: 'http://cs231n.stanford.edu/tiny-imagenet-200.zip', check: null }],
  },
};

/** Every dataset name `downloadDataset` accepts. */
export const DOWNLOADABLE = Object.freeze(Object.keys(PLANS) as DownloadableName[]);

/** Progress of one file of a download. */
export interface Progress {
  file: string;
  /** Bytes of the file on disk so far (resumed bytes included). */
  bytes: number;
  /** The file's full size, when the server says it. */
  total: number | null;
  /** Bytes per second over this transfer. */
  rate: number;
}

/** Options of `downloadDataset`. */
export interface DownloadOptions {
  dataDir: string;
  /** Replaces the location of every file: `${baseUrl}/${file name}` (mirrors, tests). */
  baseUrl?: string;
  /** Called as bytes arrive. */
  onProgress?: (p: Progress) => void;
  /** Expected checksums by file name, replacing the built-in ones (MD5 for archives, SHA-256 of the gunzipped payload for .gz files). */
  checksums?: Readonly<Record<string, string>>;
  /** Transfers tried per file before giving up; each one resumes the previous (default 4). */
  attempts?: number;
  /** Seconds without data before a transfer counts as dropped (default 60). */
  idleTimeout?: number;
  /** Keep the archive after extraction (default false). */
  keepArchive?: boolean;
}

/** What `downloadDataset` fetched and where the dataset now lies. */
export interface DownloadResult {
  /** The dataset folder, complete. */
  path: string;
  /** Files fetched over the network in this call (empty when everything was present). */
  fetched: string[];
}

/** The files `downloadDataset(name)` fetches, with where they go: for the no-network message and docs. */
export function downloadSources(name: DownloadableName, dataDir: string): { url: string; dest: string }[] {
  const plan = planFor(name);
  const dir = plan.kind === 'files' ? resolve(dataDir, plan.folder) : resolve(dataDir);
  return plan.files.map((f) => ({ url: f.url, dest: join(dir, f.name) }));
}

function planFor(name: string): Plan {
  if (!Object.prototype.hasOwnProperty.call(PLANS, name)) {
    const extra = name === 'imagenet' ? ' (ImageNet needs an account at image-net.org: place it by hand)' : '';
    throw new RangeError(`no download for '${name}'${extra}; downloadable: ${DOWNLOADABLE.join(', ')}`);
  }
  return PLANS[name as DownloadableName];
}

/** Downloads a dataset into `o.dataDir` with checksums, retries and resumption, and unpacks it where `loadDataset` looks. */
export async function downloadDataset(name: DownloadableName, o: DownloadOptions): Promise<DownloadResult> {
  checkOptions('downloadDataset', z.strictObject({
    dataDir: z.string().min(1), baseUrl: z.string().min(1).optional(), onProgress: is.func.optional(),
    checksums: z.record(z.string(), z.string()).optional(), attempts: is.positiveInt.optional(),
    idleTimeout: is.positive.optional(), keepArchive: z.boolean().optional(),
  }), o);
  const plan = planFor(name);
  const dataDir = resolve(o.dataDir);
  const target = join(dataDir, plan.folder);
  const fetched: string[] = [];
  mkdirSync(dataDir, { recursive: true });

  if (plan.kind === 'files') {
    mkdirSync(target, { recursive: true });
    for (const f of plan.files) {
      const dest = join(target, f.name);
      const check = checkFor(f, o);
      if (isFile(dest) && verify(dest, check) === null) continue;
      await fetchVerified(f, dest, check, o, plan);
      fetched.push(dest);
    }
    return { path: target, fetched };
  }

  // The rename into place is the last step, so an existing folder is a finished one.
  if (isDir(target)) return { path: target, fetched };
  const [f] = plan.files;
  const archive = join(dataDir, f.name);
  const check = checkFor(f, o);
  if (!(isFile(archive) && verify(archive, check) === null)) {
    await fetchVerified(f, archive, check, o, plan);
    fetched.push(archive);
  }
  const work = join(dataDir, `.${plan.folder}.extract-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(work);
  try {
    try {
      if (plan.kind === 'tar.gz') await tar.x({ file: archive, cwd: work, strict: true });
      else await extractZip(archive, work);
    } catch (e) {
      // Without a checksum the archive cannot be told good from bad, so a broken one must not be
      // kept to fail the same way on every later call.
      if (check === null) rmSync(archive, { force: true });
      throw new DataError(`${archive}: extraction failed (${(e as Error).message})${check === null ? '; the archive was deleted, run again to download it anew' : ''}`, { file: archive, cause: e });
    }
    if (!isDir(join(work, plan.folder))) {
      throw new DataError(`${archive}: has no top-level ${plan.folder}/ folder (not the official ${plan.title} archive?)`, { file: archive });
    }
    renameSync(join(work, plan.folder), target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (!o.keepArchive) rmSync(archive, { force: true });
  return { path: target, fetched };
}

function checkFor(f: RemoteFile, o: DownloadOptions): Check {
  const override = o.checksums?.[f.name];
  if (override === undefined) return f.check;
  return { algo: f.check?.algo ?? (f.name.endsWith('.gz') && !f.name.endsWith('.tar.gz') ? 'sha256-gunzip' : 'md5'), value: override.toLowerCase() };
}

/** null when the file passes, else the checksum it has. */
function verify(file: string, check: Check): string | null {
  if (check === null) return null;
  let got: string;
  if (check.algo === 'md5') {
    got = hashFile(file, 'md5');
  } else {
    try {
      got = createHash('sha256').update(gunzipSync(readFileSync(file))).digest('hex');
    } catch {
      return 'not valid gzip data';
    }
  }
  return got === check.value ? null : got;
}

function hashFile(file: string, algo: string): string {
  // Read in 16 MB chunks so a 250 MB archive is never held whole.
  const h = createHash(algo);
  const size = statSync(file).size;
  const buf = Buffer.alloc(Math.min(size, 1 << 24));
  const fd = openSync(file, 'r');
  try {
    for (let at = 0; at < size;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - at), at);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

class TransferError extends Error {
  constructor(message: string, readonly retriable: boolean, readonly code?: string) { super(message); }
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN']);

async function fetchVerified(f: RemoteFile, dest: string, check: Check, o: DownloadOptions, plan: Plan): Promise<void> {
  const url = o.baseUrl !== undefined ? `${o.baseUrl.replace(/\/+$/, '')}/${f.name}` : f.url;
  const part = `${dest}.part`;
  mkdirSync(dirname(dest), { recursive: true });
  const attempts = Math.max(1, o.attempts ?? 4);
  let last: TransferError | null = null;
  for (let a = 0; a < attempts; a++) {
    try {
      await transfer(url, part, f.name, o);
      last = null;
      break;
    } catch (e) {
      last = e instanceof TransferError ? e : new TransferError((e as Error).message, true, (e as NodeJS.ErrnoException).code);
      if (!last.retriable) break;
    }
  }
  if (last) {
    const offline = last.code !== undefined && OFFLINE_CODES.has(last.code);
    const where = plan.kind === 'files'
      ? `place the files there yourself (${plan.files.map((x) => x.url).join(', ')}) in ${dirname(dest)}/`
      : `download ${f.url} elsewhere and place it at ${dest}${plan.kind === 'tar.gz' ? `, or extract it so that ${join(dirname(dest), plan.folder)}/ exists` : `, or unzip it so that ${join(dirname(dest), plan.folder)}/ exists`}`;
    throw new DataError(
      `${url}: download failed (${last.message})${offline ? ' — no network?' : ''}. To install ${plan.title} without pai's download, ${where}; ` +
      `a partial download is kept as ${part} and resumed next time.`,
      { file: dest },
    );
  }
  const bad = verify(part, check);
  // verify passes every file when there is no checksum.
  if (bad !== null && check !== null) {
    unlinkSync(part);
    throw new DataError(
      `${url}: checksum mismatch for ${f.name}: ${check.algo === 'md5' ? 'MD5' : 'SHA-256 of the uncompressed data'} is ${bad}, expected ${check.value}; ` +
      'the download was deleted (a corrupted transfer or a changed file on the server); run it again',
      { file: dest },
    );
  }
  renameSync(part, dest);
}

function sizeOf(file: string): number {
  try { return statSync(file).size; } catch { return 0; }
}

function get(url: string, headers: Record<string, string>, idleMs: number, redirects = 5): Promise<IncomingMessage> {
  return new Promise((resolvePromise, reject) => {
    let u: URL;
    try { u = new URL(url); } catch { reject(new TransferError(`bad URL ${url}`, false)); return; }
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { headers: { 'user-agent': 'pai', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) { reject(new TransferError(`too many redirects at ${url}`, false)); return; }
        get(new URL(res.headers.location, u).toString(), headers, idleMs, redirects - 1).then(resolvePromise, reject);
        return;
      }
      resolvePromise(res);
    });
    req.setTimeout(idleMs, () => req.destroy(Object.assign(new Error(`no data for ${idleMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new TransferError(e.code ? `${e.code}: ${e.message}` : e.message, !OFFLINE_CODES.has(e.code ?? ''), e.code)));
    req.end();
  });
}

/** One transfer into `part`, resuming from its current size where the server allows. */
async function transfer(url: string, part: string, name: string, o: DownloadOptions): Promise<void> {
  const idleMs = (o.idleTimeout ?? 60) * 1000;
  let start = sizeOf(part);
  let res = await get(url, start > 0 ? { range: `bytes=${start}-` } : {}, idleMs);
  let status = res.statusCode ?? 0;
  if (status === 416 && start > 0) {
    res.resume();
    // Nothing left to fetch when the part already has the whole file; otherwise start over.
    const m = /^bytes \*\/(\d+)$/.exec(res.headers['content-range'] ?? '');
    if (m && Number(m[1]) === start) return;
    start = 0;
    res = await get(url, {}, idleMs);
    status = res.statusCode ?? 0;
  }
  let total: number | null = null;
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
    if (!m || Number(m[1]) !== start) {
      res.resume();
      rmSync(part, { force: true }); // the next attempt starts from scratch rather than guess
      throw new TransferError(`server answered range ${res.headers['content-range'] ?? '(none)'} for bytes=${start}-`, true);
    }
    total = m[3] === '*' ? null : Number(m[3]);
  } else if (status === 200) {
    start = 0; // Range ignored: start over.
    const len = Number(res.headers['content-length']);
    total = Number.isFinite(len) && res.headers['content-length'] !== undefined ? len : null;
  } else {
    res.resume();
    throw new TransferError(`HTTP ${status}`, status >= 500 || status === 429);
  }
  let bytes = start;
  const t0 = Date.now();
  let lastReport = 0;
  const report = (force: boolean): void => {
    if (!o.onProgress) return;
    const now = Date.now();
    if (!force && now - lastReport < 200) return;
    lastReport = now;
    const secs = Math.max((now - t0) / 1000, 1e-3);
    o.onProgress({ file: name, bytes, total, rate: (bytes - start) / secs });
  };
  // Every byte received is written and flushed even when the connection breaks, so the part file
  // always ends exactly where the next attempt resumes (a pipeline would destroy the file stream
  // with bytes still buffered).
  const out = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
  let lost: NodeJS.ErrnoException | null = null;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
      report(false);
    }
  } catch (e) {
    lost = e as NodeJS.ErrnoException;
  }
  await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
  if (lost) throw new TransferError(`connection lost after ${bytes} bytes (${lost.message})`, true, lost.code);
  report(true);
  if (total !== null && bytes !== total) {
    throw new TransferError(`connection closed after ${bytes} of ${total} bytes`, true);
  }
}

function extractZip(file: string, dest: string): Promise<void> {
  return new Promise((done, fail) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true, validateEntrySizes: true }, (err, zip) => {
      if (err) { fail(err); return; }
      zip.on('error', fail);
      zip.on('end', () => done());
      zip.on('entry', (entry: yauzl.Entry) => {
        // yauzl refuses absolute names and '..' components, so joining under dest is safe.
        const out = join(dest, entry.fileName);
        if (entry.fileName.endsWith('/')) {
          mkdirSync(out, { recursive: true });
          zip.readEntry();
          return;
        }
        mkdirSync(dirname(out), { recursive: true });
        zip.openReadStream(entry, (e, stream) => {
          if (e) { fail(e); return; }
          pipeline(stream, createWriteStream(out)).then(() => zip.readEntry(), fail);
        });
      });
      zip.readEntry();
    });
  });
}
