// The kernel's own C under test: find the units in a kernel tree or in
// patches, compile each against the shim (cached), and hand each back as the
// component plugin of its kind. The one entry point the runner calls is
// loadKernelC(); every failure is one line and an errno, never a throw.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Errno } from '../../models/errno.ts';
import { buildUnit } from './build.ts';
import { CUnitProcess } from './bridge.ts';
import { cConversion, type KernelCConversion } from './conversion.ts';
import { cExporter, type KernelCExporter } from './exporter.ts';
import { cutOf, fileFragment, indexItems, itemsOf, mangledHunks, readPatch, renderItems, selectItems, type Fragment, type Item } from './extract.ts';
import { cRoute, type KernelCRoute } from './route.ts';
import { CONVERSION_UNITS, EXPORTER_UNIT, ROUTE_UNIT, type UnitSpec } from './units.ts';

export type { KernelCConversion } from './conversion.ts';
export type { KernelCExporter } from './exporter.ts';
export type { KernelCRoute } from './route.ts';

/** Where the C comes from: a kernel source tree, or patch / mbox files (applied in order). */
export interface KernelCOptions {
  readonly tree?: string;
  readonly patches?: readonly string[];
  /** Rewrite the extracted text before compiling (tests only: the one-token change of issue 12). */
  readonly transform?: (path: string, text: string) => string;
}

/** How one unit was built. */
export interface KernelCBuild {
  readonly unit: string;
  readonly cached: boolean;
  /** Compile time in ms (0 when cached). */
  readonly ms: number;
  readonly binary: string;
}

export interface KernelCUnits {
  /** The conversion unit (dma_buf_map/unmap of 002 v8, or dma_buf_phys_vec_to_sgt/free_sgt), as a ConversionImpl. */
  readonly conversion?: KernelCConversion;
  /** The exporter unit (drivers/vfio/pci/vfio_pci_dmabuf.c) as an exporter plugin. */
  readonly exporter?: KernelCExporter;
  /** The route unit (the routing of drivers/pci/p2pdma.c) as a route plugin's p2pdma. */
  readonly route?: KernelCRoute;
  /** One line per unit not built, naming the missing file. */
  readonly skipped: readonly string[];
  /** One line per part of the input that could not be used (a mangled hunk), naming what is left out. */
  readonly notes: readonly string[];
  readonly builds: readonly KernelCBuild[];
  /** Stop every unit process. */
  close(): void;
}

/** What went wrong, in one line; `exitCode` 2 is bad input (the CLI's usage exit). */
export type KernelCLoad = { readonly ok: true; readonly value: KernelCUnits } | { readonly ok: false; readonly errno: Errno; readonly message: string; readonly exitCode: 2 };

const fail = (errno: Errno, message: string): KernelCLoad => ({ ok: false, errno, message, exitCode: 2 });

/** The items of a unit found in `fragments`, or what is missing. */
function unitItems(spec: UnitSpec, fragments: readonly Fragment[]): { items: Item[] } | { missing: string[] } {
  const index = indexItems(itemsOf(fragments.filter((f) => f.path === spec.path)));
  const missing = spec.roots.filter((r) => index.get(r)?.kind !== 'function');
  if (missing.length) return { missing };
  return { items: selectItems(index, spec.roots) };
}

/** The route unit's items: its roots, what they reference, the allow list; or what is missing. */
function routeItems(fragments: readonly Fragment[]): { items: Item[] } | { missing: string[] } {
  const index = indexItems(itemsOf(fragments.filter((f) => f.path === ROUTE_UNIT.path)));
  const missing = ROUTE_UNIT.roots.filter((r) => index.get(r)?.kind !== 'function');
  if (missing.length) return { missing };
  return { items: selectItems(index, ROUTE_UNIT.roots, ROUTE_UNIT.exclude) };
}

/** The exporter's items: the whole file (fragments from its first line: a tree's file or a
 *  new-file hunk), with functions of later hunks replacing theirs; or what is missing. */
function exporterItems(fragments: readonly Fragment[]): { items: Item[]; iommufdMap: boolean } | { missing: string[]; why: string } {
  const mine = fragments.filter((f) => f.path === EXPORTER_UNIT.path);
  const whole = mine.filter((f) => f.firstLine === 1);
  if (!whole.length) {
    const why = mine.length
      ? `the patches change ${EXPORTER_UNIT.path} in hunks (${mine.map((f) => `from line ${f.firstLine}`).join(', ')}) but do not add the whole file (its new-file hunk): give a tree with --kernel-tree`
      : `the patches do not add ${EXPORTER_UNIT.path}`;
    return { missing: [...EXPORTER_UNIT.roots], why };
  }
  const later = itemsOf(mine.filter((f) => f.firstLine !== 1)).filter((it) => it.kind === 'function');
  const base = itemsOf(whole);
  const all = [...base, ...later.map((it, i) => ({ ...it, seq: base.length + i }))];
  const index = indexItems(all);
  const missing = EXPORTER_UNIT.roots.filter((r) => index.get(r)?.kind !== 'function');
  if (missing.length) return { missing, why: `${EXPORTER_UNIT.path} of the patches lacks ${missing.join(', ')}` };
  // Every item of the file, once, each in its latest version, in file order.
  const items = [...new Set(index.values())].filter((it) => base.some((b) => b.name === it.name) || it.kind === 'function').sort((a, b) => (a.line - b.line) || (a.seq - b.seq));
  return { items, iommufdMap: index.get(EXPORTER_UNIT.iommufdMap)?.kind === 'function' };
}

/** The files a kernel tree is read for: each unit's source. */
const UNIT_FILES = [...new Set([...CONVERSION_UNITS.map((u) => u.path), EXPORTER_UNIT.path, ROUTE_UNIT.path])];

/** What is wrong with `tree` as a kernel source tree, or null: missing, a file, or none of the units' files in it. */
function treeProblem(tree: string): string | null {
  if (!existsSync(tree)) return 'no such directory';
  if (!statSync(tree).isDirectory()) return 'is a file, not a directory (give the top of a kernel source tree)';
  if (!UNIT_FILES.some((f) => existsSync(join(tree, f)))) return `not a kernel tree: it has none of ${UNIT_FILES.join(', ')}`;
  return null;
}

/** Find, extract and compile the C units of a kernel tree or of patches.
 *  Errors (exit 2): -ENOENT a tree that is missing, a file, or holds none of the units' files, a patch that is
 *  missing (-EINVAL a directory) or cannot be read, or no C compiler (the Debian package named);
 *  -ENODATA-like absence is -EINVAL: patches that contain no unit's functions (the missing names listed);
 *  -EINVAL a compile error (the compiler's first error, file:line). A tree without a unit's file skips that unit. */
export async function loadKernelC(opts: KernelCOptions): Promise<KernelCLoad> {
  const skipped: string[] = [];
  const notes: string[] = [];
  const found: { spec: UnitSpec; items: Item[] }[] = [];
  let exporter: { items: Item[]; iommufdMap: boolean } | undefined;
  let route: Item[] | undefined;
  if (opts.tree !== undefined) {
    const bad = treeProblem(opts.tree);
    if (bad) return fail('-ENOENT', `kernel tree ${opts.tree}: ${bad}`);
    const absent: string[] = [];
    for (const spec of CONVERSION_UNITS) {
      const file = join(opts.tree, spec.path);
      if (!existsSync(file)) { absent.push(`no ${spec.path}`); continue; }
      const got = unitItems(spec, [fileFragment(spec.path, readFileSync(file, 'utf8'))]);
      if ('items' in got) { found.push({ spec, items: got.items }); break; }
      absent.push(`${spec.path} without ${got.missing.join(', ')}`);
    }
    if (!found.some((f) => f.spec.kind === 'conversion')) skipped.push(`conversion unit skipped: ${absent.join('; ')} in ${opts.tree}`);
    const file = join(opts.tree, EXPORTER_UNIT.path);
    if (!existsSync(file)) skipped.push(`exporter unit skipped: no ${EXPORTER_UNIT.path} in ${opts.tree}`);
    else {
      const got = exporterItems([fileFragment(EXPORTER_UNIT.path, readFileSync(file, 'utf8'))]);
      if ('items' in got) exporter = got;
      else skipped.push(`exporter unit skipped: ${EXPORTER_UNIT.path} in ${opts.tree} without ${got.missing.join(', ')}`);
    }
    const rfile = join(opts.tree, ROUTE_UNIT.path);
    if (!existsSync(rfile)) skipped.push(`route unit skipped: no ${ROUTE_UNIT.path} in ${opts.tree}`);
    else {
      const got = routeItems([fileFragment(ROUTE_UNIT.path, readFileSync(rfile, 'utf8'))]);
      if ('items' in got) route = got.items;
      else skipped.push(`route unit skipped: ${ROUTE_UNIT.path} in ${opts.tree} without ${got.missing.join(', ')}`);
    }
  }
  if (opts.patches?.length) {
    const fragments: Fragment[] = [];
    for (const p of opts.patches) {
      if (!existsSync(p)) return fail('-ENOENT', `patch ${p}: no such file`);
      if (statSync(p).isDirectory()) return fail('-EINVAL', `patch ${p}: is a directory, not a patch or mbox file (a source tree is --kernel-tree)`);
      const fr = readPatch(p);
      if (!fr) return fail('-ENOENT', `patch ${p}: cannot be read`);
      // A cut patch (a hunk shorter than its header says) is bad input: the C it holds is not the C posted.
      const cut = fr.map(cutOf).find((l) => l !== null);
      if (cut) return fail('-EINVAL', cut);
      fragments.push(...fr);
      for (const m of mangledHunks(readFileSync(p, 'utf8'), p)) {
        notes.push(`${m.origin}: the hunk ${m.header} of ${m.path}${m.functions.length ? ` (adding ${m.functions.join(', ')})` : ''} is mangled (diff header, hunk header and text run together, '+' markers lost or turned into '- ', lines joined): its ${m.newLines} lines cannot be recovered unedited, so it is not compiled`);
      }
    }
    const exp = exporterItems(fragments);
    if ('items' in exp) exporter = exp;
    else if (exp.missing.length < EXPORTER_UNIT.roots.length) return fail('-EINVAL', `${opts.patches.join(', ')}: ${EXPORTER_UNIT.path} lacks ${exp.missing.join(', ')}`);
    else skipped.push(`exporter unit skipped: ${exp.why}`);
    const partial: string[] = [];
    for (const spec of CONVERSION_UNITS) {
      const got = unitItems(spec, fragments);
      if ('items' in got) { found.push({ spec, items: got.items }); break; }
      if (got.missing.length < spec.roots.length) partial.push(`${spec.path} lacks ${got.missing.join(', ')}`);
    }
    const r = routeItems(fragments);
    const routePartial = !('items' in r) && r.missing.length < ROUTE_UNIT.roots.length ? `${ROUTE_UNIT.path} lacks ${r.missing.join(', ')}` : null;
    if ('items' in r) route = r.items;
    else if (routePartial) skipped.push(`route unit skipped: the patches change ${ROUTE_UNIT.path} but do not hold ${r.missing.join(', ')} (a hunk is not the whole file): give a tree with --kernel-tree`);
    else skipped.push(`route unit skipped: the patches do not change ${ROUTE_UNIT.path}`);
    if (!found.some((f) => f.spec.kind === 'conversion')) {
      skipped.push(`conversion unit skipped: ${partial.length ? partial.join('; ') : `the patches hold neither ${CONVERSION_UNITS.map((u) => `${u.roots.join('/')} (${u.path})`).join(' nor ')}`}`);
    }
    if (!found.some((f) => f.spec.kind === 'conversion') && (!exporter || partial.length) && !route) {
      const wanted = [...CONVERSION_UNITS.map((s) => `${s.roots.join('/')} (${s.path})`), `${EXPORTER_UNIT.path}`, `${ROUTE_UNIT.roots.join('/')} (${ROUTE_UNIT.path})`].join(' or ');
      // What the patches come closest to: a broken conversion pair first, else the routing functions.
      const lacks = partial.length ? partial : routePartial ? [routePartial] : [];
      return fail('-EINVAL', `${opts.patches.join(', ')}: ${lacks.length ? lacks.join('; ') : `no ${wanted}`}`);
    }
  }
  const builds: KernelCBuild[] = [];
  const procs: CUnitProcess[] = [];
  let conversion: KernelCConversion | undefined;
  for (const { spec, items } of found) {
    const text = renderItems(items);
    const b = buildUnit({ unit: spec.kind, kernelText: opts.transform ? opts.transform(spec.path, text) : text, defines: spec.defines });
    if (!b.ok) { for (const p of procs) p.close(); return fail(b.errno, b.message); }
    builds.push({ unit: spec.kind, cached: b.cached, ms: b.ms, binary: b.binary });
    const proc = new CUnitProcess(b.binary);
    procs.push(proc);
    const entry = (name: string | undefined) => items.find((it) => it.name === name && it.kind === 'function');
    const [mapFn, unmapFn] = [entry(spec.defines['KC_MAP']), entry(spec.defines['KC_UNMAP'])];
    conversion = cConversion(proc, spec.variant, items.map((it) => `${it.path}:${it.line} ${it.name} (${it.origin})`), {
      ...(mapFn ? { map: `${mapFn.path}:${mapFn.line} (${mapFn.name})` } : {}), ...(unmapFn ? { unmap: `${unmapFn.path}:${unmapFn.line} (${unmapFn.name})` } : {}),
    });
  }
  let cexp: KernelCExporter | undefined;
  if (exporter) {
    const conv = found.find((f) => f.spec.kind === 'conversion');
    if (!conv) {
      const line = `exporter unit skipped: ${EXPORTER_UNIT.path} calls dma_buf_map/dma_buf_unmap, and no conversion unit (${CONVERSION_UNITS.map((u) => u.path).join(' or ')}) was found`;
      if (opts.tree === undefined) { for (const p of procs) p.close(); return fail('-EINVAL', line); }
      skipped.push(line);
    } else {
      const text = renderItems(conv.items) + renderItems(exporter.items);
      const b = buildUnit({ unit: 'exporter', kernelText: opts.transform ? opts.transform(EXPORTER_UNIT.path, text) : text, defines: exporter.iommufdMap ? { KC_IOMMUFD_MAP: EXPORTER_UNIT.iommufdMap } : {} });
      if (!b.ok) { for (const p of procs) p.close(); return fail(b.errno, b.message); }
      builds.push({ unit: 'exporter', cached: b.cached, ms: b.ms, binary: b.binary });
      const proc = new CUnitProcess(b.binary);
      procs.push(proc);
      const sources = [...conv.items, ...exporter.items].map((it) => `${it.path}:${it.line} ${it.name} (${it.origin})`);
      cexp = cExporter(proc, { name: EXPORTER_UNIT.name, basedOn: EXPORTER_UNIT.basedOn, sources, iommufdMap: exporter.iommufdMap });
      if (!exporter.iommufdMap) notes.push(`exporter unit: ${EXPORTER_UNIT.path} has no ${EXPORTER_UNIT.iommufdMap} (003): it offers iommufd no private interconnect: iommufd's map gets -EOPNOTSUPP, as the model expects`);
    }
  }
  let croute: KernelCRoute | undefined;
  if (route) {
    const text = renderItems(route);
    const b = buildUnit({ unit: 'route', kernelText: opts.transform ? opts.transform(ROUTE_UNIT.path, text) : text, defines: {}, header: ROUTE_UNIT.header, extraSources: ROUTE_UNIT.extraSources });
    if (!b.ok) { for (const p of procs) p.close(); return fail(b.errno, b.message); }
    builds.push({ unit: 'route', cached: b.cached, ms: b.ms, binary: b.binary });
    const proc = new CUnitProcess(b.binary);
    procs.push(proc);
    croute = cRoute(proc, ROUTE_UNIT.name, route);
  }
  return { ok: true, value: { ...(conversion ? { conversion } : {}), ...(cexp ? { exporter: cexp } : {}), ...(croute ? { route: croute } : {}), skipped, notes, builds, close: () => procs.forEach((p) => p.close()) } };
}
