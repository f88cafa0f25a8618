// The VFIO exporter's mapping-type half (000/001 RFC 12/26 and 22/26,
// drivers/vfio/pci/vfio_pci_dmabuf.c on jgunthorpe/linux dmabuf_map_type),
// wrapped around the v8 port's dma-buf (src/impl/vfio/vfio_pci_dmabuf.ts) so
// the lifecycle port stays untouched: vfio_pci_dma_buf_attach() keeps only
// the revoked check, vfio_pci_dma_buf_match_mapping() offers [PAL, SGT_P2P]
// (rfc) or [PAL] (converter, 004). `posted` is the RFC as posted;
// `review-fix` is the fix Jason Gunthorpe proposed to Baolu Lu's review of
// RFC 12/26 (no dma_resv_assert_held, no !priv->vdev check, priv->pdev).
import type { PhysVec } from '../../../models/pal.ts';
import { converterFor, spec } from '../../../models/profiles.ts';
import type { Kernel } from '../../kernel/kernel.ts';
import type { KObj } from '../../kernel/objects.ts';
import type { PalExpOps } from '../converters.ts';
import type { DmaBuf } from '../dma-buf-core.ts';
import { emappingPal, emappingSgt, type DmaBufMatchCore, type Int, type MatchDmaBufOps } from '../dma-buf-match.ts';
import type { VfioPciDmaBuf } from './vfio_pci_dmabuf.ts';

export interface VfioMatchVariant {
  readonly name: string;
  readonly posted: boolean;
  /** vfio_pci_dma_buf_attach(): "if (priv->revoked) return -ENODEV;" */
  readonly attachChecksRevoked: boolean;
  /** map_phys refuses a revoked dma-buf (not in RFC 22/26; the converter profile needs it). */
  readonly palChecksRevoked?: boolean;
  readonly bugOf?: 'MATCH-CLEANED';
}

/** models/profiles.ts names the VFIO offers; this is the SGT one (DMA_BUF_EMAPPING_SGT_P2P). */
const VFIO_SGT_P2P = 'SGT(EXPORTER_REQUIRES_P2P)';

export const RFC_POSTED: VfioMatchVariant = { name: 'vfio-pci:rfc-posted', posted: true, attachChecksRevoked: true };
export const RFC_REVIEW_FIX: VfioMatchVariant = { name: 'vfio-pci:rfc-review-fix', posted: false, attachChecksRevoked: true };
/** The PAL-only exporter of the converter profile: RFC as posted, map_phys checks revoked. */
export const CONVERTER_PAL: VfioMatchVariant = { name: 'vfio-pci:converter', posted: true, attachChecksRevoked: true, palChecksRevoked: true };

/** The RFC dma_buf_ops of a VFIO dma-buf; `pdev` is priv->pdev of the review fix (pci_dev_get at create). */
export function vfioMatchOps(core: DmaBufMatchCore, dmabuf: DmaBuf, variant: VfioMatchVariant, pdev: string): MatchDmaBufOps {
  const k = core.k;
  const privOf = (site: string) => k.heap.use(dmabuf.priv as KObj<VfioPciDmaBuf>, site);
  return {
    release: 'vfio_pci_dma_buf_release',
    attach: (): Int => (variant.attachChecksRevoked && privOf('vfio_pci_dma_buf_attach').revoked ? '-ENODEV' : 0),
    match_mapping: (args): Int => {
      const site = 'vfio_pci_dma_buf_match_mapping';
      const priv = privOf(site);
      let dev = pdev;
      if (variant.posted) {
        dmabuf.resv.assertHeld('LOCK-RESV', site);
        // Once we pass vfio_pci_dma_buf_cleanup() the dmabuf will never be usable again.
        if (!priv.vdev) return '-ENODEV';
        dev = priv.vdev.name;
      }
      // The PAL entry names the exporting device only where the core converts PAL to SGT for it (004).
      const pal = emappingPal(core, { name: 'vfio_pci_dma_buf_pal_ops', pal: vfioPalOps(k, dmabuf, variant.palChecksRevoked === true) }, converterFor(core.profile, 'PAL', 'SGT') ? dev : null);
      const list = spec(core.profile).vfioOffers.flatMap((o) => (o === 'PAL' ? [pal] : o === VFIO_SGT_P2P ? [emappingSgt(core, { name: 'vfio_pci_dma_buf_sgt_ops' }, dev, true)] : []));
      return core.dma_buf_match_mapping(args, list, list.length);
    },
  };
}

/** vfio_pci_dma_pal_map_phys()/unmap_phys() (RFC 22/26): a kvmalloc'd copy
 *  of the ranges. As posted it does not look at priv->revoked; `checkRevoked`
 *  adds the check vfio_pci_dma_buf_map() has, which the converter profile
 *  needs because the core, not iommufd, calls it on every map. */
export function vfioPalOps(k: Kernel, dmabuf: DmaBuf, checkRevoked: boolean): PalExpOps {
  return {
    map_phys: () => {
      const site = 'vfio_pci_dma_pal_map_phys';
      const priv = k.heap.use(dmabuf.priv as KObj<VfioPciDmaBuf>, site);
      if (checkRevoked && priv.revoked) return { ok: false, errno: '-ENODEV' };
      const pal = k.heap.alloc<readonly PhysVec[]>('pal', site, k.heap.use(priv.phys_vec, site).slice(0, priv.nr_ranges));
      return pal ? { ok: true, pal } : { ok: false, errno: '-ENOMEM' };
    },
    unmap_phys: (pal) => k.heap.free(pal, 'vfio_pci_dma_pal_unmap_phys'),
  };
}
