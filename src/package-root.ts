// The folder of this copy of the package (its package.json), found from this
// file whether it runs from source (src/) or from the build (dist/src/): the
// shipped files (reports/baseline.json, schemas/, c/) live there.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'dmabuf-conform') return dir;
    if (dirname(dir) === dir) throw new Error(`no dmabuf-conform package.json above ${import.meta.url}`);
  }
}

/** The package root, an absolute path. */
export const PACKAGE_ROOT = find();
