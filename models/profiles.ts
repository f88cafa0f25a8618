// The designs the suite checks, one at a time (RULES.md "Profiles"): the
// three seed designs and `mainline`, the code as merged after them (2026).
// Every behavioural difference between them lives in this file: the other
// models, the ports and the harness ask here instead of testing a profile
// name themselves. `profiles --diff A B` prints DIFFERENCES.
import type { Errno } from './errno.ts';
import type { SegmentLimit } from './sgt.ts';

export const PROFILES = ['v8', 'rfc', 'converter', 'mainline'] as const;
export type Profile = (typeof PROFILES)[number];

export function isProfile(s: string): s is Profile {
  return (PROFILES as readonly string[]).includes(s);
}

/** A core conversion from an exporter mapping type to an importer one (004). */
export interface Converter {
  readonly from: string;
  readonly to: string;
}

/** How iommufd obtains the physical ranges of a dma-buf. */
export type IommufdPath = 'private-interconnect' | 'pal' | 'iommu-domain';

export interface ProfileSpec {
  readonly name: Profile;
  readonly title: string;
  readonly seeds: string;
  /** Attach goes through mapping types and match-making (001). */
  readonly mappingTypes: boolean;
  /** LEN-SEG: the largest scatterlist entry (models/sgt.ts). */
  readonly segmentLimit: SegmentLimit;
  /** Who may be matched with a PAL importer entry: nobody exists (v8), iommufd only (rfc), no importer at all (converter). */
  readonly palImporters: 'no-pal-type' | 'iommufd-only' | 'none';
  /** Core converters tried when an exporter entry and an importer entry differ in type. */
  readonly converters: readonly Converter[];
  /** What the VFIO exporter offers, in priority order. */
  readonly vfioOffers: readonly string[];
  readonly iommufdPath: IommufdPath;
  /** iommufd maps a dma-buf with more than one range (RFC 24/26); v8 refuses it -EOPNOTSUPP (003). */
  readonly iommufdMultiRange: boolean;
  /** What attach answers for a DMA importer without peer2peer: the v8 exporter's attach op, or no match. */
  readonly attachWithoutP2P: Errno;
  /** The core's name for telling importers their mappings are gone (move_notify, or invalidate_mappings since 7.0). */
  readonly invalidateName: 'move_notify' | 'invalidate_mappings';
  /** REV-DRAIN: a revoke waits for the importers' fences and for every unmap (a per-dma-buf count of
   *  mappings and a completion) before the device is changed. */
  readonly revokeWaits: boolean;
  /** REV-DRAIN: vfio_pci_dma_buf_cleanup() revokes and drains only the dma-bufs not revoked already. */
  readonly cleanupSkipsRevoked: boolean;
  /** Close runs vfio_pci_dma_buf_cleanup() before vfio_pci_core_disable() (the importers are revoked before the
   *  BAR regions are released, memory decode cleared and the function reset); the seed disables first. */
  readonly closeCleansUpFirst: boolean;
  /** REV-PIN: the VFIO exporter refuses (-EOPNOTSUPP) an attachment that cannot be revoked
   *  (dma_buf_attach_revocable() false) and accepts pinning from one that can. */
  readonly revocableAttachOnly: boolean;
  /** iommufd pins its attachment (dma_buf_pin) after attach and unpins before detach. */
  readonly iommufdPins: boolean;
  /** The create path claims the BAR it exports (vfio_pci_core_setup_barmap(): pci_request_selected_regions()
   *  and pci_iomap()) with the region-index check: a BAR whose regions cannot be claimed or mapped
   *  (another driver holds them; an absent or unassigned BAR) is -ENODEV. */
  readonly createClaimsBar: boolean;
}

/** The revoke as the seeds have it (002 v8 10/11): notify and go on. */
const SEED_REVOKE = { invalidateName: 'move_notify', revokeWaits: false, cleanupSkipsRevoked: false, closeCleansUpFirst: false, revocableAttachOnly: false, iommufdPins: false, createClaimsBar: false } as const;

export const SPECS: Readonly<Record<Profile, ProfileSpec>> = {
  v8: {
    name: 'v8', title: 'merged design: SGT for DMA importers, VFIO-iommufd private interconnect with one range', seeds: '002, 003',
    mappingTypes: false, segmentLimit: 'uint-max', palImporters: 'no-pal-type', converters: [],
    vfioOffers: ['legacy map_dma_buf/unmap_dma_buf (peer2peer checked in attach)'], iommufdPath: 'private-interconnect', iommufdMultiRange: false,
    attachWithoutP2P: '-EOPNOTSUPP',
    ...SEED_REVOKE,
  },
  rfc: {
    name: 'rfc', title: 'mapping types and match-making; PAL exporter and iommufd-only PAL importer; multi-range iommufd', seeds: '001, 000',
    mappingTypes: true, segmentLimit: 'page-aligned', palImporters: 'iommufd-only', converters: [],
    vfioOffers: ['PAL', 'SGT(EXPORTER_REQUIRES_P2P)'], iommufdPath: 'pal', iommufdMultiRange: true,
    attachWithoutP2P: '-EINVAL',
    ...SEED_REVOKE,
  },
  converter: {
    name: 'converter', title: 'PAL exporters only; core converters PAL→SGT and PAL→iommu_domain; no importer sees a physical address', seeds: '004',
    mappingTypes: true, segmentLimit: 'page-aligned', palImporters: 'none',
    converters: [{ from: 'PAL', to: 'SGT' }, { from: 'PAL', to: 'IOMMU_DOMAIN' }],
    vfioOffers: ['PAL'], iommufdPath: 'iommu-domain', iommufdMultiRange: true,
    attachWithoutP2P: '-EINVAL',
    ...SEED_REVOKE,
  },
  mainline: {
    name: 'mainline', title: 'as merged in 2026: 7.0 revoke (invalidate_mappings, waits for fences and unmaps, revocable attachments, pin/unpin), BAR regions claimed at create, the conversion fixes', seeds: '002, 003 as merged; torvalds/linux',
    mappingTypes: false, segmentLimit: 'page-aligned', palImporters: 'no-pal-type', converters: [],
    vfioOffers: ['legacy map_dma_buf/unmap_dma_buf (peer2peer and revocable checked in attach; pin/unpin)'], iommufdPath: 'private-interconnect', iommufdMultiRange: false,
    attachWithoutP2P: '-EOPNOTSUPP',
    invalidateName: 'invalidate_mappings', revokeWaits: true, cleanupSkipsRevoked: true, closeCleansUpFirst: true, revocableAttachOnly: true, iommufdPins: true, createClaimsBar: true,
  },
};

export function spec(p: Profile): ProfileSpec {
  return SPECS[p];
}

/** The converter from an exporter type to an importer type in a profile, if the core has one. */
export function converterFor(p: Profile, from: string, to: string): Converter | undefined {
  return SPECS[p].converters.find((c) => c.from === from && c.to === to);
}

/** One behaviour as each profile has it, and the seed passage behind it. */
export interface Difference {
  readonly key: keyof ProfileSpec;
  readonly behaviour: string;
  readonly passage: string;
}

export const DIFFERENCES: readonly Difference[] = [
  { key: 'mappingTypes', behaviour: 'attach selects a mapping type by match-making', passage: '001 RFC 00/26: "The core code provides a match-making system to select the best type offered by the exporter and importer to be the active mapping type for the attachment."' },
  { key: 'segmentLimit', behaviour: 'largest scatterlist entry', passage: '002 v8 06/11: "splitting large regions into UINT_MAX-sized chunks to fit within sg->length field limits." / mainline drivers/dma-buf/dma-buf-mapping.c (torvalds/linux 0b9828c7231e): MAX_SG_ENT_SZ is UINT_MAX aligned down to PAGE_SIZE; fill_sg_entry() takes a size_t length and advances addr by each entry; calc_sg_nents() fails on a u32 overflow of the count (src/impl/dma-buf-mapping.ts MAINLINE)' },
  { key: 'palImporters', behaviour: 'importers that may receive a PAL', passage: '000 RFC 21/26: "Only iommufd can implement an importer, the kernel module loader will enforce this." / 004: "No PAL *importer*, no exposing phys_addr_t to importers."' },
  { key: 'converters', behaviour: 'core converters between mapping types', passage: '004: "The core code will provide a \\"converter function\\" from PAL to iommu_domain. Only this converter function can see the phys_addr_t and iommu_domain together." and "A converter that calls dma_buf_phys_vec_to_sgt() could exist."' },
  { key: 'vfioOffers', behaviour: 'what the VFIO exporter offers, in priority order', passage: '000 RFC 22/26: "sgt_match[0] = DMA_BUF_EMAPPING_PAL(&vfio_pci_dma_buf_pal_ops); sgt_match[1] = DMA_BUF_EMAPPING_SGT_P2P(...)" / 004: "Restructure vfio to be PAL only and rely on the converter for SGL" / mainline drivers/vfio/pci/vfio_pci_dmabuf.c (torvalds/linux 1f97d9dcf536, then 0b45a66ffb1e): the legacy ops plus pin and unpin' },
  { key: 'iommufdPath', behaviour: 'how iommufd gets the ranges', passage: '003: "This is a temporary \\"private interconnect\\" between VFIO DMABUF and iommufd." / 004: "Introduce dma buf iommu_domain importer only mapping type. Core code converter from PAL to iommu_domain."' },
  { key: 'iommufdMultiRange', behaviour: 'iommufd maps dma-bufs with several ranges', passage: '003: "/* More than one range to iommufd will require proper DMABUF support */ if (priv->nr_ranges != 1) return -EOPNOTSUPP;" / 001: "iommufd: Support DMA-bufs with multiple physical ranges"' },
  { key: 'invalidateName', behaviour: 'what the core calls the revoke callback', passage: 'mainline drivers/dma-buf/dma-buf.c: "dma-buf: Rename .move_notify() callback to a clearer identifier" and "dma-buf: Rename dma_buf_move_notify() to dma_buf_invalidate_mappings()" (dmabuf-revoke series, merged for 7.0; leon/linux-rdma dmabuf-revoke-v6 d4e0591c1f12, e55edc9c9be5); "dma-buf: Make .invalidate_mapping() truly optional" (b8135c57e458)' },
  { key: 'revokeWaits', behaviour: 'a revoke waits for the importers before the device changes', passage: 'mainline drivers/vfio/pci/vfio_pci_dmabuf.c: "vfio: Wait for dma-buf invalidation to complete" (torvalds/linux 1a8a5227f229; series ec1a80ee4504): after invalidating, wait for the fences on the reservation object and for the last unmap (a kref of mappings and a completion)' },
  { key: 'cleanupSkipsRevoked', behaviour: 'close drains only dma-bufs that are not revoked yet', passage: 'torvalds/linux c64a647c84f3 "vfio/pci: fix dma-buf kref underflow after revoke" (Fixes: 1a8a5227f229; cleanup drains through the revoke path, idempotent for dma-bufs already revoked), after the proposals lore 20260416131815.2729131-2-mattev@meta.com "vfio/pci: Fix vfio_pci_dma_buf_cleanup() double-put" (skip revoked dma-bufs: the bundled port) and 20260429142242.70f746b4@nvidia.com: "if vfio_pci_dma_buf_move() revokes DMABUFs before the fd/device closes, then vfio_pci_dma_buf_cleanup() would do a second/underflowing kref_put() then wait_for_completion() on a completion that never fires"' },
  { key: 'closeCleansUpFirst', behaviour: 'close revokes the dma-bufs before vfio_pci_core_disable() releases the BARs, clears memory decode and resets', passage: '002 v8 10/11 vfio_pci_core_close_device(): "vfio_pci_core_disable(vdev); + vfio_pci_dma_buf_cleanup(vdev);" / mainline "vfio/pci: Clean up DMABUFs before disabling function" (torvalds/linux d97708701434; lore 20260226202211.929005-3-mattev@meta.com): "if the function is disabled first, a tiny window exists in which the function\'s MSE is cleared and yet BARs could still be accessed via the DMABUF. Worse, the resources would also be free/up for grabs by a different driver." (src/impl/vfio/vfio_pci_core.ts closeOrder)' },
  { key: 'revocableAttachOnly', behaviour: 'VFIO refuses importers that cannot be revoked; pinning is allowed', passage: 'mainline drivers/dma-buf/dma-buf.c "dma-buf: Add dma_buf_attach_revocable()" (588650a367b0); drivers/vfio/pci/vfio_pci_dmabuf.c "vfio: Permit VFIO to work with pinned importers" (0b45a66ffb1e): attach returns -EOPNOTSUPP when !dma_buf_attach_revocable(attachment); before it, vfio_pci_dma_buf_pin() returned -EOPNOTSUPP (torvalds/linux 1f97d9dcf536)' },
  { key: 'iommufdPins', behaviour: 'iommufd pins its dma-buf attachment', passage: 'mainline drivers/iommu/iommufd/pages.c "iommufd: Add dma_buf_pin()" (a42ec590c0b0)' },
  { key: 'createClaimsBar', behaviour: 'create claims the BAR it exports; one that cannot be claimed or mapped is -ENODEV', passage: 'mainline drivers/vfio/pci/vfio_pci_dmabuf.c: "vfio/pci: Check BAR resources before exporting a DMABUF" (torvalds/linux 702809dabdec, lore 20260511145829.2993601-3-mattev@meta.com; 7.0-stable): the region-index check also fails -ENODEV when vfio_pci_core_setup_barmap() fails for that region, "Otherwise, it\'s possible to access unreserved resources through the export"; with "vfio/pci: Set up BAR resources and maps in vfio_pci_core_enable()" (05f2a68b407a) the regions are requested at open and the create checks they were. vfio_pci_core_setup_barmap() (drivers/vfio/pci/vfio_pci_rdwr.c): pci_request_selected_regions() (-EBUSY when another driver holds them), then pci_iomap() (NULL, -ENOMEM, for an absent or unassigned BAR)' },
  { key: 'attachWithoutP2P', behaviour: 'attach of a DMA importer without peer2peer', passage: '002 v8 10/11: "if (!attachment->peer2peer) return -EOPNOTSUPP;" / RFC 01/26 dma_buf_match_mapping(): an -EOPNOTSUPP callback skips, and no match is "return -EINVAL;"' },
];

/** A behaviour's value in a profile, printed. */
export function behaviourValue(p: Profile, key: keyof ProfileSpec): string {
  const v = SPECS[p][key];
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.map((x: unknown) => (typeof x === 'string' ? x : `${(x as Converter).from}→${(x as Converter).to}`)).join(', ');
  return String(v);
}

/** The behaviours whose values differ between two profiles. */
export function differences(a: Profile, b: Profile): Difference[] {
  return DIFFERENCES.filter((d) => behaviourValue(a, d.key) !== behaviourValue(b, d.key));
}
