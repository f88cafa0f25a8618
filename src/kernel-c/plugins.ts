// The C units of a kernel tree or patches as the plugins a run checks: the
// conversion unit as a ConversionPlugin (its profiles from its segment
// limit), the exporter unit as an ExporterPlugin. One entry for `run`.
import type { ConversionPlugin, Plugin } from '../harness/plugin.ts';
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
  if (!plugins.length) {
    u.close();
    return { ok: false, message: `no kernel C unit to check: ${u.skipped.join('; ')}` };
  }
  return { ok: true, plugins, lines: [...u.skipped, ...u.notes], close: () => u.close() };
}
