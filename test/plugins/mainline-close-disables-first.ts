// A user's one-line bug in the exporter as merged (profile mainline): the close
// path disables the function before it cleans up the dma-bufs, the order that
// "vfio/pci: Clean up DMABUFs before disabling function" (d97708701434) removed.
// Expected: REV-WINDOW (importers still map the BARs the disable releases).
import { MAINLINE_PORT, vfioExporter } from 'dmabuf-conform';

export default vfioExporter('user-mainline-close-disables-first', 'mainline close: vfio_pci_core_disable() before the dma-buf cleanup', {
  port: { ...MAINLINE_PORT, closeOrder: 'disable-first' }, // BUG: 'cleanup-first' since d97708701434
  profiles: ['mainline'],
});
