// Seeded bug (MATCH-CLEANED): the review fix of RFC 12/26 drops the
// !priv->vdev check from match_mapping, and this variant also drops the
// revoked check from vfio_pci_dma_buf_attach(), so a dma-buf attaches after
// cleanup. Seed: RFC 12/26 "Once we pass vfio_pci_dma_buf_cleanup() the
// dmabuf will never be usable again."
import type { VfioMatchVariant } from '../impl/vfio/vfio_pci_dmabuf_match.ts';

export const matchCleanedAttach: VfioMatchVariant = { name: 'bug:match-cleaned-attach', posted: false, attachChecksRevoked: false, bugOf: 'MATCH-CLEANED' };
