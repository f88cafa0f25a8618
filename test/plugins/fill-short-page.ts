// A user's one-line bug: the VFIO create path fills the last range of the
// request one page short (a fresh user's trial, t3-fill-short-page).
// Expected: PAL-FILL at the create, and nothing else new (before, the same
// mistake was filed downstream as ROUTE-BUSADDR, LEN-ADDR, LEN-SUM, DMA-IOVA).
import { ok, vfio_pci_core_get_dmabuf_phys, vfioExporter, type GetDmabufPhys } from 'dmabuf-conform';

const get_dmabuf_phys: GetDmabufPhys = (dev, region, ranges) => {
  const r = vfio_pci_core_get_dmabuf_phys(dev, region, ranges);
  if (!r.ok) return r;
  const page = BigInt(dev.pageSize);
  return ok({ ...r.value, phys: r.value.phys.map((p, i, a) => (i === a.length - 1 && p.len > page ? { ...p, len: p.len - page } : p)) }); // BUG: len = length - PAGE_SIZE
};

export default vfioExporter('user-fill-short-page', 'the last phys_vec entry one page short', { createOps: { get_dmabuf_phys } });
