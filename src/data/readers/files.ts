// File helpers shared by the readers: every failure becomes a DataError that names the file.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../dataset.js';

export function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, expected a file' : (e as Error).message;
    throw new DataError(`${file}: cannot read (${why})`, { file, cause: e });
  }
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The payload of a file that may or may not be gzip-compressed (Debian recompresses, users gunzip). */
export function readMaybeGzip(file: string): Uint8Array {
  const raw = readBytes(file);
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw);
  } catch (e) {
    throw new DataError(`${file}: corrupt or truncated gzip data (${(e as Error).message})`, { file, cause: e });
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

export function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

/** `name` or `name` without its `.gz`, whichever exists in `dir`; null when neither does. */
export function findGzOrPlain(dir: string, gzName: string): string | null {
  const gz = `${dir}/${gzName}`;
  if (isFile(gz)) return gz;
  const plain = gz.replace(/\.gz$/, '');
  return plain !== gz && isFile(plain) ? plain : null;
}

/** Sorted entries of a folder, or a DataError naming it. */
export function listDir(dir: string, what: string): string[] {
  if (!existsSync(dir)) throw new DataError(`${dir}: folder not found (expected ${what})`, { file: dir });
  if (!isDir(dir)) throw new DataError(`${dir}: is not a folder (expected ${what})`, { file: dir });
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    throw new DataError(`${dir}: cannot list (${(e as Error).message})`, { file: dir, cause: e });
  }
}

export function isJpegName(name: string): boolean {
  return /\.jpe?g$/i.test(name);
}
