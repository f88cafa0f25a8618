// Seeded bugs of the VFIO create path's unwinds and device facts (issue 13
// items 2 and 4) and of its fill (PAL-FILL through an exporter), each one
// change to a faithful port.
import type { Kernel } from '../kernel/kernel.ts';
import type { DeviceConfig } from '../harness/plugin.ts';
import { vfioExporter } from '../harness/bundled.ts';
import { dma_buf_fd, dma_buf_put } from '../impl/dma-buf-core.ts';
import { vfio_pci_core_fill_phys_vec, vfioDmaBufPhysFromRequest, type GetDmabufPhys } from '../impl/vfio/dmabuf_phys.ts';
import { VfioPciCore, V8_PORT, type VfioDmabufPort } from '../impl/vfio/vfio_pci_core.ts';
import { createAndExport, createViewOf, freeCreateAllocs, type CreateAllocs } from '../impl/vfio/vfio_pci_dmabuf.ts';
import { MAINLINE_PORT, drainOf, vfio_pci_core_setup_barmap } from '../impl/vfio/vfio_pci_dmabuf_mainline.ts';

const SITE = 'vfio_pci_core_feature_dma_buf';

/** v8 create whose get_dmabuf_phys() failure jumps to err_free_priv: phys_vec is never freed. */
const leaksPhysVec: VfioDmabufPort['feature_dma_buf'] = async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
  const allocs: CreateAllocs = { privObj: null, phys_vec: null };
  const pal = phys(createViewOf(vdev, allocs, req, SITE), req);
  if (!pal.ok) {
    if (allocs.privObj) vdev.k.heap.free(allocs.privObj, SITE); // BUG: goto err_free_priv, phys_vec leaks
    return pal;
  }
  freeCreateAllocs(vdev.k, allocs, SITE);
  return V8_PORT.feature_dma_buf(vdev, ops, req, phys);
};

export const palUnwindPhysVecLeak = vfioExporter('bug:pal-unwind-phys-vec-leak', 'a failed get_dmabuf_phys() frees priv but not phys_vec', { port: { ...V8_PORT, feature_dma_buf: leaksPhysVec }, bugOf: 'PAL-UNWIND' });

/** The mainline create (vfio_pci_dmabuf_mainline.ts) with one of its two fixes undone: `claimBar` false is
 *  the create before 702809dabdec; `fallThrough` the unwind before e98137f0a874 (put, then free and put again). */
function mainlineCreateWith(claimBar: boolean, fallThrough: boolean): VfioDmabufPort['feature_dma_buf'] {
  return async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
    const { k } = vdev;
    const exported = await createAndExport(vdev, ops, req, phys, SITE, claimBar ? { setupBarmap: (bar) => vfio_pci_core_setup_barmap(vdev, bar) } : {});
    if (!exported.ok) return exported;
    const { privObj, dmabuf } = exported.value;
    drainOf(k, privObj.value);
    if (dma_buf_fd(k, dmabuf, req.openFlags) < 0) {
      await dma_buf_put(dmabuf, SITE);
      if (fallThrough) {
        vdev.registration.put(SITE);
        k.heap.free(k.heap.use(privObj, SITE).phys_vec, SITE);
        k.heap.free(privObj, SITE);
      }
      return { ok: false, errno: '-EMFILE' };
    }
    return { ok: true, value: dmabuf };
  };
}

export const uafFdUnwindFallsThrough = vfioExporter('bug:uaf-fd-unwind-falls-through', 'mainline create with the unwind before e98137f0a874: a failed dma_buf_fd() frees what the release freed', {
  port: { ...MAINLINE_PORT, feature_dma_buf: mainlineCreateWith(true, true) }, profiles: ['mainline'], bugOf: 'UAF-OBJ',
});

/** The mainline create without the BAR claim (before 702809dabdec): exports a BAR whose regions it does not hold. */
export const palInputUnclaimedBar = vfioExporter('bug:pal-input-unclaimed-bar', 'mainline create that never claims the BAR it exports', {
  port: { ...MAINLINE_PORT, feature_dma_buf: mainlineCreateWith(false, false) }, profiles: ['mainline'], bugOf: 'PAL-INPUT',
});

/** A device whose probe gives every MEM BAR a provider, even when pcim_p2pdma_init() failed or the BAR is unassigned. */
class ProviderWithoutP2pdma extends VfioPciCore {
  constructor(k: Kernel, cfg: DeviceConfig, port: VfioDmabufPort) {
    super(k, { ...cfg, p2pdma: true, bars: cfg.bars.map(({ mappable: _m, ...b }) => b) }, port);
  }
}

export const palInputProviderWithoutP2pdma = vfioExporter('bug:pal-input-provider-without-p2pdma', 'providers for every MEM BAR whatever pcim_p2pdma_init() said: exports BARs no provider serves', { device: ProviderWithoutP2pdma, bugOf: 'PAL-INPUT' });

/** vfio_pci_core_get_dmabuf_phys() whose fill walks dma_ranges[] forwards but stores into phys_vec[nr_ranges - 1 - i]:
 *  every entry inside the BAR, the size right, the ranges in reverse order. Only the PAL itself shows it (PAL-FILL). */
const fillsReversed: GetDmabufPhys = (dev, region_index, dma_ranges) => {
  const provider = dev.provider(region_index);
  if (!provider) return { ok: false, errno: '-EINVAL' };
  const bar = dev.bars.find((b) => b.index === region_index);
  const phys = vfio_pci_core_fill_phys_vec(dma_ranges, bar?.start ?? 0n, bar?.size ?? 0n);
  return phys.ok ? { ok: true, value: { phys: phys.value.reverse(), provider } } : phys; // BUG: phys_vec[nr_ranges - 1 - i]
};

export const palFillReversed = vfioExporter('bug:pal-fill-reversed', 'the create fills phys_vec in reverse request order', { createOps: { get_dmabuf_phys: fillsReversed }, bugOf: 'PAL-FILL' });

/** The seeded bugs of the create path's unwinds, fill and device facts, for src/bugs/lifecycle.ts. */
export const createBugExporters = () => [palUnwindPhysVecLeak, uafFdUnwindFallsThrough, palInputUnclaimedBar, palInputProviderWithoutP2pdma, palFillReversed];
