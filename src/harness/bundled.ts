// The bundled implementations, as plugins: the faithful ports and every
// seeded lifecycle bug. The runner loads them exactly as it loads a user's.
import type { Kernel } from '../kernel/kernel.ts';
import { VfioPciCore, V8_PORT, vfioPciDevSetHotReset, type VfioDmabufPort } from '../impl/vfio/vfio_pci_core.ts';
import { dmaImporter } from '../impl/dma_importer.ts';
import { iommufdImporter } from '../impl/iommufd.ts';
import type { DeviceConfig, ExporterPlugin, ImporterPlugin } from './plugin.ts';
import type { RuleId } from '../rules/registry.ts';
import { lifecycleBugExporters, lifecycleBugImporters } from '../bugs/lifecycle.ts';

/** An exporter plugin around the VFIO device, with a port (faithful or bugged). */
export function vfioExporter(name: string, description: string, opts: { port?: VfioDmabufPort; device?: new (k: Kernel, cfg: DeviceConfig, port: VfioDmabufPort) => VfioPciCore; nvgrace?: boolean; bugOf?: RuleId } = {}): ExporterPlugin {
  const Device = opts.device ?? VfioPciCore;
  return {
    kind: 'exporter', name, description, profiles: ['v8'], ...(opts.bugOf ? { bugOf: opts.bugOf } : {}),
    probe: (k, cfg) => new Device(k, opts.nvgrace ? { ...cfg, nvgrace: { resmem: { memphys: 0x4000000000n, memlength: 0x200000n }, usemem: { memphys: 0x8000000000n, memlength: 0x400000n } } } : cfg, opts.port ?? V8_PORT),
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
