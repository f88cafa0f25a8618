// dmabuf-conform plugins [--bugs]: the names a selection can give (--exporter, --importer, --plugin):
// the bundled ports (what a plain run checks), the bundled importers, and the kernel C units, which
// exist only with the kernel's C (--kernel-tree/--kernel-patch); with --bugs the seeded bugs too.
import { seededBugs } from '../bugs/index.ts';
import { bundledImporters, bundledPlugins } from '../harness/bundled.ts';
import type { Plugin, PluginKind } from '../harness/plugin.ts';
import { UNIT_CATALOG } from '../kernel-c/units.ts';
import { parseFlags, UsageError } from './usage.ts';

/** What `plugins --help` prints. */
export const USAGE = 'usage: dmabuf-conform plugins [--bugs] — the bundled plugins and the kernel C units by name, each with the flag that selects it (--bugs: the seeded bugs too)';

/** The flag that selects a plugin of this kind (any kind is also a --plugin). */
const flagOf = (kind: PluginKind): string => (kind === 'exporter' || kind === 'importer' ? `--${kind}` : '--plugin');

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`);
}

const pluginRow = (p: Plugin): string[] => [p.kind, p.name, flagOf(p.kind), p.profiles.join(','), p.description];

/** The listing, one section per way a name is found. */
export function listing(bugs: boolean): string {
  const out = [
    'bundled ports, checked by a plain `run` (give a name, with the flag shown, to check only that one):',
    ...table(bundledPlugins().map(pluginRow)),
    'bundled importers (checked against the exporter given with them, else vfio-pci):',
    ...table(bundledImporters().map(pluginRow)),
    'kernel C units: the kernel\'s own C, compiled from the file named; they need --kernel-tree DIR or --kernel-patch FILE...',
    '(given either, a run checks every unit built unless the selection names some):',
    ...table(UNIT_CATALOG.map((u) => [u.kind, u.name, flagOf(u.kind), `${u.path} (${u.roots.join(', ')})${u.kind === 'exporter' ? ', and a conversion unit\'s file' : ''}`])),
    '  e.g. dmabuf-conform run --kernel-tree ~/src/linux --exporter c:v8:vfio-pci',
  ];
  const seeded = seededBugs();
  if (!bugs) return [...out, `seeded bugs: ${seeded.length} (bug:*, each breaking its own rule; \`self-test\` runs them): \`plugins --bugs\` lists them`].join('\n');
  return [...out, `seeded bugs (bug:*, each breaking the rule named; \`self-test\` runs them, --bug NAME one):`, ...table(seeded.map((b) => [b.plugin.kind, b.plugin.name, flagOf(b.plugin.kind), b.rule]))].join('\n');
}

/** `plugins`: print the listing; exit 0. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { bugs: { type: 'boolean' } }, USAGE);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}' (${USAGE})`);
  process.stdout.write(`${listing(values.bugs === true)}\n`);
  return 0;
}
