// The seeded lifecycle bugs, collected for the bundled plugin list.
import type { ExporterPlugin, ImporterPlugin } from '../harness/plugin.ts';

export const LIFECYCLE_BUG_EXPORTERS: ExporterPlugin[] = [];
export const LIFECYCLE_BUG_IMPORTERS: ImporterPlugin[] = [];
