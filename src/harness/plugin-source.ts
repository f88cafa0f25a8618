// Where each plugin object came from (`--exporter ./acme.ts`, the bundled 'vfio-pci', a kernel C unit),
// for the one line that refuses two plugins of one name: the runner files violations, the corpus and
// replay by implementation name, so two plugins of one name would be merged into one implementation
// (and replay would load only the first).
const SOURCES = new WeakMap<object, string>();

/** Record how the user gave a plugin: `--exporter ./acme.ts`. */
export function noteSource(plugin: object, source: string): void {
  SOURCES.set(plugin, source);
}

/** How the plugin was given, or what it is when no flag named it (a bundled plugin, a kernel C unit). */
export function sourceOf(plugin: { readonly name: string }): string {
  return SOURCES.get(plugin) ?? (plugin.name.startsWith('c:') ? `the kernel C unit '${plugin.name}'` : `the bundled plugin '${plugin.name}'`);
}
