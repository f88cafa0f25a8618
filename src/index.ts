// The public entry of the `dmabuf-conform` package: what a plugin imports.
//
//   import { vfioPci, vfioExporter, type ExporterPlugin } from 'dmabuf-conform';
//
// A plugin's default export is one Plugin: an exporter or an importer (the
// lifecycle suite, and for a VFIO exporter the create path and one map), or
// one kernel function the model specifies: `route` (drivers/pci/p2pdma.c),
// `pal` (the VFIO create path), `conversion` (PAL → SGT,
// drivers/dma-buf/dma-buf-mapping.c), `match` (the dma-buf match-making core
// of the RFC) or `converter` (the core converters of 004). Every suite runs on
// every plugin that provides what it checks (README, "Testing your own
// implementation"). Plugins use only the simulated kernel below; a name not
// exported here is internal.
//
// Units and conventions (models/u64.ts, models/errno.ts): addresses, sizes and
// lengths are `bigint` (u64, phys_addr_t, dma_addr_t, size_t; wrapping as in C
// only where a port says so); an entry point answers 'ok' or a kernel errno
// name ('-EINVAL'), or a Result<T>; a thrown exception is a PLUGIN-THROW finding.

// ---- the plugin API (src/harness/plugin.ts) --------------------------------
export type {
  AttachOptions, ConversionPlugin, ConverterPlugin, DeviceConfig, ExporterDevice, ExporterPlugin, ImporterAttachment,
  ImporterPlugin, MatchPlugin, PalPlugin, Plugin, PluginKind, RoutePlugin,
} from './harness/plugin.ts';
export { PLUGIN_KINDS } from './harness/plugin.ts';

// ---- the specification's types and helpers (models/) -----------------------
export type { Errno, ErrnoName, Result } from '../models/errno.ts';
export { err, errnoValue, isErrno, ok, resultTag } from '../models/errno.ts';
export type { DmaAddr, PageSize, PhysAddr, U32, U64 } from '../models/u64.ts';
export { alignDown, alignUp, checkAddOverflow, divRoundUp, hex, isAligned, u32, u64, U64_MAX, UINT_MAX } from '../models/u64.ts';
export type { DmaBufRequest, DmaRange, NvgraceMemory, Pal, PhysVec, VfioDeviceView } from '../models/pal.ts';
export type { Bar, MapType, P2PProvider } from '../models/pci/types.ts';
export type { Topology } from '../models/pci/topology.ts';
export type { DeviceEvent, Importer } from '../models/lifecycle.ts';
export type { Profile } from '../models/profiles.ts';
export { PROFILES } from '../models/profiles.ts';
export type { SegmentLimit } from '../models/sgt.ts';

// ---- the simulated kernel (src/kernel/): its services check the rules ------
export { Kernel } from './kernel/kernel.ts';
export { Heap, KObj, type Site } from './kernel/objects.ts';
export { DMA_MAPPING_ERROR, DmaApi, type DmaDir } from './kernel/dma.ts';
// What a conversion (PAL → SGT) is written with, shaped as the kernel's dma_buf_phys_vec_to_sgt() calls it: the
// scatterlist (lib/scatterlist.c), struct dma_iova_state and dma_use_iova(), the DMA API entry points (dma_map_phys,
// dma_mapping_error, dma_unmap_phys, dma_iova_try_alloc/link/sync/destroy), the p2pdma route and bus address, the
// resv assertion, and errnoName() for a MapResult. Each is the simulated kernel's own checked service.
export { newSgTable, sg_alloc_table, sg_at, sg_free_table, SG_MAX_SINGLE_ALLOC, type Scatterlist, type SgTable } from './kernel/scatterlist.ts';
export { dma_use_iova, newIovaState, type DmaIovaState } from './kernel/dma.ts';
export {
  dma_iova_destroy, dma_iova_link, dma_iova_sync, dma_iova_try_alloc, dma_map_phys, dma_mapping_error, dma_resv_assert_held, dma_unmap_phys, errnoName,
  pci_p2pdma_bus_addr_map, pci_p2pdma_map_type,
} from './kernel/conversion-api.ts';

// ---- the dma-buf core (drivers/dma-buf/dma-buf.c) ---------------------------
export {
  dma_buf_detach, dma_buf_dynamic_attach, dma_buf_export, dma_buf_fd, dma_buf_map_attachment, dma_buf_move_notify, dma_buf_put, dma_buf_unmap_attachment,
  type DmaBuf, type DmaBufAttachOps, type DmaBufAttachment, type DmaBufOps,
} from './impl/dma-buf-core.ts';

// ---- the bundled ports, with the seams a one-line variant needs --------------
// vfio-pci (002 v8 10/11): the exporter plugin, its builder and its parts.
export { matchExporter, nvgrace, vfioExporter, vfioPci, type VfioExporterOptions } from './harness/bundled.ts';
export { V8_PORT, VfioPciCore, vfioPciDevSetHotReset, type VfioDmabufPort } from './impl/vfio/vfio_pci_core.ts';
export {
  __vfio_pci_memory_enabled, vfio_pci_core_feature_dma_buf, vfio_pci_dma_buf_cleanup, vfio_pci_dma_buf_iommufd_map, vfio_pci_dma_buf_move,
  VfioPciDmabufOps, type VfioPciCoreDevice, type VfioPciDmaBuf,
} from './impl/vfio/vfio_pci_dmabuf.ts';
// The create path's pieces, to vary vfio_pci_core_feature_dma_buf() one line at a time as the port is written
// (a `port: { ...V8_PORT, feature_dma_buf }` of vfioExporter): createAndExport() is everything up to dma_buf_fd()
// (validation, fill, registration, export, the device list), createPriv() / exportPriv() its two halves,
// createViewOf() / freeCreateAllocs() the allocation of priv and phys_vec and its unwind, list_del() the device
// list's removal; moveWalk() / cleanupWalk() the walks of vfio_pci_dma_buf_move() and _cleanup(), the cleanup's
// registration put a parameter of the walk and of both cleanups (vfio_device_put_registration() by default:
// `cleanup: (vdev) => vfio_pci_dma_buf_cleanup(vdev, () => undefined)` is the cleanup without it). heldPhysVec()
// is what the PAL checks read of a dma-buf (dmabuf->priv->phys_vec): a plugin's own priv without it is not judged.
export {
  cleanupWalk, createAndExport, createPriv, createViewOf, exportPriv, freeCreateAllocs, list_del, moveWalk, vfio_device_put_registration, type CreateAllocs,
  type PutRegistration,
} from './impl/vfio/vfio_pci_dmabuf.ts';
export { heldPhysVec } from './rules/pal.ts';
export {
  createOps, nvgrace_get_dmabuf_phys, validate_dmabuf_input, vfio_pci_core_fill_phys_vec, vfio_pci_core_get_dmabuf_phys, vfioDmaBufPhysFromRequest,
  type CreateOps, type GetDmabufPhys,
} from './impl/vfio/dmabuf_phys.ts';
export { CONVERTER_PAL, RFC_POSTED, RFC_REVIEW_FIX, vfioMatchOps, type VfioMatchVariant } from './impl/vfio/vfio_pci_dmabuf_match.ts';
// vfio-pci as merged (profile mainline): a variant is `vfioExporter(name, description, { port: { ...MAINLINE_PORT, move: ... },
// profiles: ['mainline'] })`. The drain (1a8a5227f229) is drainOf(k, priv): a Kref of live mappings and a Completion.
export { vfioPciFirstDrain, vfioPciMainline } from './harness/bundled.ts';
export {
  cleanupMainline, dma_buf_attach_revocable, drainOf, MAINLINE_FIRST_DRAIN_PORT, MAINLINE_PORT, MainlineDmabufOps,
  vfio_pci_core_feature_dma_buf_mainline, vfio_pci_core_setup_barmap, vfio_pci_dma_buf_move_mainline, type Drain,
} from './impl/vfio/vfio_pci_dmabuf_mainline.ts';
export { Completion, Kref } from './kernel/completion.ts';
// The conversion helper (dma_buf_map of 002 v8 06/11; dma_buf_phys_vec_to_sgt of mainline) and its helpers.
export {
  dma_buf_free_sgt, dma_buf_map, dma_buf_phys_vec_to_sgt, dma_buf_unmap, MAINLINE_OPS,
  type Attachment, type DmaBufDma, type MainlineOps, type MapResult, type MappingKernel,
} from './impl/dma-buf-mapping.ts';
export { MAINLINE_PHYS_VEC_TO_SGT, V8_DMA_BUF_MAP } from './rules/conversion-impls.ts';
export { PAL_CREATE } from './rules/pal.ts';
// p2pdma (drivers/pci/p2pdma.c) and the route implementations.
export { P2pdma, P2pdmaDivergence } from './impl/p2pdma.ts';
export { ROUTE_IMPLS } from './rules/route.ts';
// The match-making core (001 RFC 01-02/26) and the converters (004).
export { DmaBufMatchCore, emappingPal, emappingSgt, imappingPal, imappingSgt, type DmaBufMappingMatch, type MatchDmaBufOps } from './impl/dma-buf-match.ts';
export { RFC_MATCH_CORE } from './rules/match.ts';
export { DmaBufConverters, type PalExpOps } from './impl/converters.ts';
export { CORE_CONVERTERS } from './rules/match-convert.ts';
// The importers: a dynamic DMA importer and iommufd (003).
export { dmaImporter, DmaImporterAttachment, dmaImporterLate } from './impl/dma_importer.ts';
export { IommufdAttachment, iommufdImporter, iommufdMainline, iommufdPlugin } from './impl/iommufd.ts';
export { matchImporters } from './impl/match_importers.ts';
