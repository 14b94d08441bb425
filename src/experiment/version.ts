// pai's version, read from the package.json above this module (dist/src/experiment or
// src/experiment), so the number lives in one place; recorded in every result row.

import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** pai's name on the npm registry (`npm install pai-prune`; the command it installs is `pai`). */
export const PACKAGE_NAME = 'pai-prune';

let cached: string | null = null;

/** The version in pai's package.json, or "unknown" when it cannot be found. */
export function paiVersion(): string {
  if (cached !== null) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return (cached = pkg.version);
      } catch { /* not ours; keep looking */ }
    }
    const up = dirname(dir);
    if (up === dir) return (cached = 'unknown');
    dir = up;
  }
}

/**
 * The container image that runs pai, built from the repository's Dockerfile
 * (`docker build -t pai-prune:0.1.0 .`): the image `pai run --emit k8s` and `--emit slurm`
 * name unless told otherwise. Its name is the package's and its tag the version.
 */
export function paiImage(): string {
  return `${PACKAGE_NAME}:${paiVersion()}`;
}
