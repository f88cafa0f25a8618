// The C units the suite knows how to drive: the kernel file each lives in,
// the functions it must define, and the driver (c/units/<kind>.c) with the
// macros naming its entry points.
import type { ConversionVariant } from './conversion.ts';

export interface UnitSpec {
  readonly kind: 'conversion';
  /** The kernel file, relative to the tree root (as in `diff --git a/<path>`). */
  readonly path: string;
  /** The functions the driver calls; the items they reference come along. */
  readonly roots: readonly string[];
  readonly defines: Readonly<Record<string, string>>;
  readonly variant: ConversionVariant;
}

/** In order of preference: mainline's dma-buf-mapping.c, then 002 v8 06/11's dma-buf.c. */
export const CONVERSION_UNITS: readonly UnitSpec[] = [
  {
    kind: 'conversion', path: 'drivers/dma-buf/dma-buf-mapping.c', roots: ['dma_buf_phys_vec_to_sgt', 'dma_buf_free_sgt'],
    defines: { KC_MAP: 'dma_buf_phys_vec_to_sgt', KC_UNMAP: 'dma_buf_free_sgt' },
    variant: { name: 'c:mainline:dma_buf_phys_vec_to_sgt', basedOn: 'mainline:dma_buf_phys_vec_to_sgt', limit: 'page-aligned' },
  },
  {
    kind: 'conversion', path: 'drivers/dma-buf/dma-buf.c', roots: ['dma_buf_map', 'dma_buf_unmap'],
    defines: { KC_MAP: 'dma_buf_map', KC_UNMAP: 'dma_buf_unmap' },
    variant: { name: 'c:v8:dma_buf_map', basedOn: 'v8:dma_buf_map', limit: 'uint-max' },
  },
];

/** The exporter: drivers/vfio/pci/vfio_pci_dmabuf.c, the whole file (002 v8 10/11), with the
 *  conversion it calls (dma_buf_map/dma_buf_unmap of a conversion unit above). */
export const EXPORTER_UNIT = {
  kind: 'exporter',
  /** Its plugin name (--exporter c:v8:vfio-pci). */
  name: 'c:v8:vfio-pci',
  path: 'drivers/vfio/pci/vfio_pci_dmabuf.c',
  /** What the driver (c/units/exporter.c) calls. */
  roots: ['vfio_pci_core_feature_dma_buf', 'vfio_pci_dma_buf_move', 'vfio_pci_dma_buf_cleanup', 'vfio_pci_core_get_dmabuf_phys'],
  /** 003's private interconnect, compiled when the file has it. */
  iommufdMap: 'vfio_pci_dma_buf_iommufd_map',
  basedOn: 'vfio-pci',
} as const;

/** The route unit: the routing of drivers/pci/p2pdma.c (mainline, with 002 v8 01-04/11's
 *  providers), compiled after kshim_pci.h and driven by c/units/route.c. */
export const ROUTE_UNIT = {
  kind: 'route',
  /** Its plugin name (--plugin c:p2pdma). */
  name: 'c:p2pdma',
  path: 'drivers/pci/p2pdma.c',
  /** What the driver calls; host_bridge_whitelist, cpu_supports_p2pdma, pci_bridge_has_acs_redir,
   *  the allow list and the other static helpers come along as the items these reference. */
  roots: ['pcim_p2pdma_init', 'pcim_p2pdma_provider', 'pci_p2pdma_map_type', 'calc_map_type_and_dist', 'pci_p2pdma_distance_many'],
  /** Reached only through calls the shim's macros drop (sysfs_remove_group(..., &p2pmem_group)
   *  in the release): not compiled, so the sysfs attributes and the p2pmem pool stay out. */
  exclude: ['p2pmem_group'],
  header: 'kshim_pci.h',
  extraSources: ['shim/pci.c'],
  routing: 'classic',
} as const;

/** A C unit as `dmabuf-conform plugins` lists it: its name, kind, the kernel file it is compiled from and the
 *  functions that file must define (the exporter also needs a conversion unit's file, which it calls). */
export interface UnitEntry {
  readonly name: string;
  readonly kind: 'conversion' | 'exporter' | 'route';
  readonly path: string;
  readonly roots: readonly string[];
}

/** Every C unit this tool can build, by name, in the order a run builds them. */
export const UNIT_CATALOG: readonly UnitEntry[] = [
  ...CONVERSION_UNITS.map((u): UnitEntry => ({ name: u.variant.name, kind: u.kind, path: u.path, roots: u.roots })),
  { name: EXPORTER_UNIT.name, kind: EXPORTER_UNIT.kind, path: EXPORTER_UNIT.path, roots: EXPORTER_UNIT.roots },
  { name: ROUTE_UNIT.name, kind: ROUTE_UNIT.kind, path: ROUTE_UNIT.path, roots: ROUTE_UNIT.roots },
];
