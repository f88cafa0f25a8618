// The C units of a kernel tree or patches as the plugins a run checks: the
// conversion unit as a ConversionPlugin (its profiles from its segment
// limit), the exporter unit as an ExporterPlugin. One entry for `run`.
import { PROFILES } from '../../models/profiles.ts';
import type { ConversionPlugin, Plugin, RoutePlugin } from '../harness/plugin.ts';
import { ROUTE_UNIT } from './units.ts';
import { profilesOfLimit } from '../harness/bundled.ts';
import { loadKernelC, type KernelCOptions } from './index.ts';

export type KernelCPlugins =
  | { readonly ok: true; readonly plugins: Plugin[]; /** skipped units and unusable input, one line each */ readonly lines: readonly string[]; close(): void }
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
  return { ok: true, plugins, lines: [...u.skipped, ...u.notes], close: () => u.close() };
}
