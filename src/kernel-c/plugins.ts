// The C units of a kernel tree or patches as the plugins a run checks: the
// conversion unit as a ConversionPlugin (its profiles from its segment
// limit), the exporter unit as an ExporterPlugin. One entry for `run`.
import { existsSync } from 'node:fs';
import { PROFILES } from '../../models/profiles.ts';
import { UsageError } from '../commands/usage.ts';
import type { ConversionPlugin, Plugin, PluginKind, RoutePlugin } from '../harness/plugin.ts';
import { ROUTE_UNIT, UNIT_CATALOG } from './units.ts';
import { profilesOfLimit } from '../harness/bundled.ts';
import { loadKernelC, type KernelCOptions } from './index.ts';

export type KernelCPlugins =
  | { readonly ok: true; readonly plugins: Plugin[]; /** skipped units and unusable input, one line each */ readonly lines: readonly string[]; /** the units not built, one line each saying why */ readonly skipped: readonly string[]; close(): void }
  | { readonly ok: false; /** one line (exit 2) */ readonly message: string };

/** Build the units of `opts` and hand them back as plugins; bad input is one line. */
export async function kernelCPlugins(opts: KernelCOptions): Promise<KernelCPlugins> {
  const r = await loadKernelC(opts);
  if (!r.ok) return { ok: false, message: r.message };
  const u = r.value;
  const plugins: Plugin[] = [];
  if (u.conversion) {
    const c = u.conversion;
    const p: ConversionPlugin = { kind: 'conversion', name: c.name, description: `${c.name}: the conversion compiled from ${c.sources[0]?.split(' ')[0] ?? 'the kernel under test'}`, profiles: profilesOfLimit(c.limit), limit: c.limit, map: c.map, unmap: c.unmap };
    plugins.push(p);
  }
  if (u.exporter) plugins.push(u.exporter);
  if (u.route) {
    const r = u.route;
    const p: RoutePlugin = { kind: 'route', name: r.name, description: `${r.name}: the routing compiled from ${r.sources[0]?.split(' ')[0]?.replace(/:\d+$/, '') ?? 'drivers/pci/p2pdma.c'}`, profiles: PROFILES, routing: ROUTE_UNIT.routing, create: r.create, judgeC: r.judgeC };
    plugins.push(p);
  }
  if (!plugins.length) {
    u.close();
    return { ok: false, message: `no kernel C unit to check: ${u.skipped.join('; ')}` };
  }
  return { ok: true, plugins, lines: [...u.skipped, ...u.notes], skipped: u.skipped, close: () => u.close() };
}

/** A C unit as a selection names it: its plugin name and kind (c:v8:vfio-pci an exporter, c:v8:dma_buf_map a conversion, c:p2pdma a route). */
export interface KernelCUnitName {
  readonly name: string;
  readonly kind: PluginKind;
}

/** 'an exporter', 'a route'. */
const a = (kind: string) => `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;

/**
 * A selection (--exporter/--importer/--plugin, in order: [flag, spec, kind the flag requires]) split into the C
 * units it names and the rest (bundled names, plugin files), by the rules of bundled names: a name is matched
 * exactly, and --exporter/--importer need a unit of their kind (--plugin takes any).
 * `only` is the C units to run: undefined when the selection names none (with --kernel-tree/--kernel-patch every
 * C unit built runs, beside the plugins named), else those named.
 * @param units the C units built (kernelCPlugins), or null without --kernel-tree/--kernel-patch
 * @param skipped the lines of the units not built (kernelCPlugins' `skipped`: 'exporter unit skipped: why')
 * @throws UsageError one line: a C unit given with a flag of another kind, a unit this tool knows that was not
 *   built (why, from `skipped`), a `c:` name that is no unit built (the units built listed), or a `c:` name
 *   without --kernel-tree/--kernel-patch
 */
export function selectKernelC<T extends readonly [string, string, PluginKind | undefined]>(given: readonly T[], units: readonly KernelCUnitName[] | null, skipped: readonly string[] = []): { only?: string[]; rest: T[] } {
  const only: string[] = [];
  const rest: T[] = [];
  for (const g of given) {
    const [flag, spec, kind] = g;
    const unit = units?.find((u) => u.name === spec);
    if (unit) {
      if (kind && unit.kind !== kind) throw new UsageError(`${flag} ${spec}: that kernel C unit is ${a(unit.kind)}${unit.kind === 'exporter' || unit.kind === 'importer' ? ` (--${unit.kind} ${spec})` : ` (--plugin ${spec})`}`);
      if (!only.includes(spec)) only.push(spec);
    } else if (/^c:/.test(spec) && !existsSync(spec)) {
      const known = UNIT_CATALOG.find((u) => u.name === spec);
      const why = known && skipped.find((l) => l.startsWith(`${known.kind} unit skipped: `));
      if (units && why) throw new UsageError(`${flag} ${spec}: that kernel C unit was not built: ${why.slice(`${known.kind} unit skipped: `.length)}`);
      throw new UsageError(units
        ? `${flag} ${spec}: no kernel C unit of that name (the C units built: ${units.map((u) => `${u.name} (${u.kind})`).join(', ') || 'none'})`
        : `${flag} ${spec}: the name of a kernel C unit: give the C with --kernel-tree DIR or --kernel-patch FILE`);
    } else rest.push(g);
  }
  return { ...(only.length ? { only } : {}), rest };
}
