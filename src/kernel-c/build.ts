// Compiling a C unit: the kernel's items (extract.ts) after the shim header,
// then the unit's driver (c/units/<unit>.c), linked with the bridge, built
// with AddressSanitizer and UndefinedBehaviorSanitizer. Builds are cached by
// the SHA-256 of everything that goes into them (generated source, shim,
// driver, compiler, flags), outside the repository: $DMABUF_CONFORM_CACHE, or
// node_modules/.cache/dmabuf-conform. A second run does not recompile.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { Errno } from '../../models/errno.ts';
import { PACKAGE_ROOT } from '../package-root.ts';

/** The package root (c/ lives there), from source or from the build. */
export const REPO_ROOT = PACKAGE_ROOT;
const C_DIR = join(REPO_ROOT, 'c');
const SHIM_FILES = ['shim/include/kshim.h', 'shim/bridge.h', 'shim/bridge.c', 'shim/services.c', 'shim/vfio.c', 'units/sgt_reply.h'];

export const CFLAGS: readonly string[] = [
  '-std=gnu11', '-g', '-O1', '-fno-omit-frame-pointer', '-fno-strict-aliasing',
  '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-pthread',
];

/** What to build: the generated kernel text, the driver, and the macros it needs. */
export interface BuildSpec {
  /** c/units/<unit>.c */
  readonly unit: string;
  /** The kernel's items with #line markers (renderItems). */
  readonly kernelText: string;
  readonly defines: Readonly<Record<string, string>>;
  /** The shim header the unit's kernel text is compiled after (default kshim.h; the route unit's is kshim_pci.h). */
  readonly header?: string;
  /** More shim sources (under c/) the unit links, e.g. shim/pci.c. */
  readonly extraSources?: readonly string[];
}

export type BuildResult =
  | { readonly ok: true; readonly binary: string; readonly cached: boolean; readonly ms: number; readonly key: string }
  | { readonly ok: false; readonly errno: Errno; readonly message: string };

/** The cache directory: $DMABUF_CONFORM_CACHE or node_modules/.cache/dmabuf-conform under the repository. */
export function cacheDir(): string {
  return process.env.DMABUF_CONFORM_CACHE ?? join(REPO_ROOT, 'node_modules', '.cache', 'dmabuf-conform');
}

/** The C compiler: $CC or gcc. */
export function compiler(): string {
  return process.env.CC ?? 'gcc';
}

/** The compiler's identity (path and version), or null when there is none. */
function compilerId(cc: string): string | null {
  const r = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return `${cc}\n${r.stdout.split('\n')[0]}`;
}

/** The generated translation unit: shim, kernel items, driver. */
export function unitSource(spec: BuildSpec): string {
  const defs = Object.entries(spec.defines).map(([k, v]) => `#define ${k} ${v}\n`).join('');
  return `#include <${spec.header ?? 'kshim.h'}>\n${defs}${spec.kernelText}#include "${join(C_DIR, 'units', `${spec.unit}.c`)}"\n`;
}

/** The first compiler or linker error as one line: `file:line: message`. */
export function firstError(output: string): string {
  const lines = output.split('\n');
  for (const l of lines) {
    const m = /^(.+?):(\d+):(?:\d+:)? (?:fatal )?error: (.*)$/.exec(l);
    if (m) return `${m[1]}:${m[2]}: ${m[3]}`;
  }
  for (const l of lines) {
    const m = /(?:^|: )([^\s:]+:\d+): undefined reference to [`'](\w+)'/.exec(l);
    if (m) return `${m[1]}: undefined reference to ${m[2]} (a kernel service the shim does not provide)`;
  }
  if (/cannot find -lasan|libasan/.test(output)) return 'the AddressSanitizer runtime is missing: install the Debian package libasan8 (apt-get install libasan8)';
  if (/cannot find -lubsan|libubsan/.test(output)) return 'the UBSan runtime is missing: install the Debian package libubsan1 (apt-get install libubsan1)';
  return lines.find((l) => l.trim() !== '') ?? 'the compiler failed without a message';
}

/** Build (or find in the cache) the unit's sanitized executable.
 *  Errors: -ENOENT no C compiler (the message names the Debian package), -EINVAL a compile error (first error, file:line). */
export function buildUnit(spec: BuildSpec): BuildResult {
  const cc = compiler();
  const id = compilerId(cc);
  if (!id) return { ok: false, errno: '-ENOENT', message: `no C compiler (${cc}): install the Debian package gcc (apt-get install gcc)` };
  const source = unitSource(spec);
  const h = createHash('sha256').update(id).update('\0').update(CFLAGS.join(' ')).update('\0').update(source);
  const extra = spec.extraSources ?? [];
  const headers = spec.header && spec.header !== 'kshim.h' ? [`shim/include/${spec.header}`] : [];
  for (const f of [...SHIM_FILES, ...headers, ...extra, `units/${spec.unit}.c`]) h.update('\0').update(f).update('\0').update(readFileSync(join(C_DIR, f)));
  const key = h.digest('hex').slice(0, 24);
  const dir = join(cacheDir(), 'kernel-c', key);
  const binary = join(dir, spec.unit);
  if (existsSync(binary)) return { ok: true, binary, cached: true, ms: 0, key };
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `${spec.unit}-unit.c`);
  writeFileSync(src, source);
  // Workers of one process may build the same unit at once: the thread is part of the name.
  const tmp = `${binary}.${process.pid}.${threadId}.tmp`;
  const t0 = performance.now();
  const r = spawnSync(cc, [...CFLAGS, '-I', join(C_DIR, 'shim', 'include'), '-I', join(C_DIR, 'shim'), src, join(C_DIR, 'shim', 'bridge.c'), join(C_DIR, 'shim', 'services.c'), join(C_DIR, 'shim', 'vfio.c'), ...extra.map((f) => join(C_DIR, f)), '-o', tmp], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return { ok: false, errno: '-EINVAL', message: `compile error: ${firstError(`${r.stderr ?? ''}${r.stdout ?? ''}${r.error?.message ?? ''}`)}` };
  renameSync(tmp, binary);
  return { ok: true, binary, cached: false, ms: Math.round(performance.now() - t0), key };
}
