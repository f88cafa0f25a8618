// The bundled implementations, as plugins: the faithful ports and every
// seeded lifecycle bug. The runner loads them exactly as it loads a user's.
import type { Kernel } from '../kernel/kernel.ts';
import { VfioPciCore, V8_PORT, vfioPciDevSetHotReset, type VfioDmabufPort } from '../impl/vfio/vfio_pci_core.ts';
import { dmaImporter } from '../impl/dma_importer.ts';
import { iommufdImporter } from '../impl/iommufd.ts';
import type { DeviceConfig, ExporterPlugin, ImporterPlugin } from './plugin.ts';
import type { RuleId } from '../rules/registry.ts';
import type { Profile } from '../../models/profiles.ts';
import type { DmaBuf } from '../impl/dma-buf-core.ts';
import type { DmaBufMatchCore } from '../impl/dma-buf-match.ts';
import { vfioMatchOps, type VfioMatchVariant } from '../impl/vfio/vfio_pci_dmabuf_match.ts';
import { lifecycleBugExporters, lifecycleBugImporters } from '../bugs/lifecycle.ts';

interface VfioExporterOptions {
  readonly port?: VfioDmabufPort;
  readonly device?: new (k: Kernel, cfg: DeviceConfig, port: VfioDmabufPort) => VfioPciCore;
  readonly nvgrace?: boolean;
  readonly bugOf?: RuleId;
  /** The mapping-type half (RFC 12, 22/26) for the profiles with mapping types; the plugin then runs under `profile`. */
  readonly match?: { readonly variant: VfioMatchVariant; readonly profile: Profile };
}

const NVGRACE_MEMORY = { resmem: { memphys: 0x4000000000n, memlength: 0x200000n }, usemem: { memphys: 0x8000000000n, memlength: 0x400000n } };

/** An exporter plugin around the VFIO device, with a port (faithful or bugged). */
export function vfioExporter(name: string, description: string, opts: VfioExporterOptions = {}): ExporterPlugin {
  const Device = opts.device ?? VfioPciCore;
  const match = opts.match;
  return {
    kind: 'exporter', name, description, profiles: [match?.profile ?? 'v8'], ...(opts.bugOf ? { bugOf: opts.bugOf } : {}),
    probe(k, cfg) {
      const dev = new Device(k, opts.nvgrace ? { ...cfg, nvgrace: NVGRACE_MEMORY } : cfg, opts.port ?? V8_PORT);
      return match ? Object.assign(dev, { matchOps: (core: DmaBufMatchCore, dmabuf: DmaBuf) => vfioMatchOps(core, dmabuf, match.variant, cfg.name) }) : dev;
    },
    hotReset: (devices) => vfioPciDevSetHotReset(devices as VfioPciCore[]),
  };
}

export const vfioPci = vfioExporter('vfio-pci', 'vfio-pci dma-buf exporter (002 v8 10/11)');
export const nvgrace = vfioExporter('nvgrace-gpu', 'nvgrace-gpu: vfio-pci with device memory regions (002 v8 11/11)', { nvgrace: true });

/** Every bundled plugin: the faithful ports first, then the seeded bugs. */
export function bundledExporters(): ExporterPlugin[] {
  return [vfioPci, nvgrace, ...lifecycleBugExporters()];
}

export function bundledImporters(): ImporterPlugin[] {
  return [dmaImporter, iommufdImporter, ...lifecycleBugImporters()];
}
export { dmaImporter, iommufdImporter };
