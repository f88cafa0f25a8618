// Seeded bug (DMA-IOVA): the result of dma_iova_link() is ignored, so a link
// the IOMMU refused (-EEXIST on ARM io-pgtable, or an injected failure) is
// counted as mapped and its span handed to the device unlinked.
import type { DmaApi } from '../kernel/dma.ts';
import { kernelWith, withKernel } from './conversion-helpers.ts';

export const dmaIovaLinkUnchecked = withKernel('bug:dma-iova-link-unchecked', 'DMA-IOVA', (k) => kernelWith(k, {
  dma: new Proxy(k.dma, {
    get: (target, prop, receiver) => (prop === 'dma_iova_link' ? (...args: Parameters<DmaApi['dma_iova_link']>) => (target.dma_iova_link(...args), 0) : Reflect.get(target, prop, receiver)),
  }),
}));
