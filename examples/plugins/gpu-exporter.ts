// A third-party-style exporter plugin: a GPU with two BARs (BAR0 = 256 MiB
// of VRAM, BAR2 = 16 MiB of registers that are never exported) whose dma-bufs
// each export one buffer object (BO) as one range of VRAM. BOs sit in 2 MiB
// slots of BAR0; a request's ranges are placed each in its own BO slot.
// The revoke lifecycle (move_notify around FLR, reset, D3, close) is the VFIO
// exporter's, reused as a driver would reuse a core helper; where it behaves
// as vfio-pci's documented findings (reports/FINDINGS.md) say, those are
// reported as the known findings they are.
// Under the rfc and converter profiles it offers its dma-bufs through mapping
// types (matchOps: the match list [PAL, SGT(P2P)], or [PAL] behind the core
// converters), again the VFIO helpers.
//
//   npx dmabuf-conform run --exporter examples/plugins/gpu-exporter.ts
import { CONVERTER_PAL, RFC_POSTED, VfioPciCore, vfioMatchOps, vfioPciDevSetHotReset } from 'dmabuf-conform';
import type { Bar, DeviceConfig, DmaBuf, DmaBufMatchCore, DmaBufRequest, ExporterPlugin, Kernel } from 'dmabuf-conform';

const MiB = 1n << 20n;
const BO_SLOT = 2n * MiB;

class GpuDevice extends VfioPciCore {
  constructor(k: Kernel, cfg: DeviceConfig) {
    const vram = cfg.bars[0]!;
    const bars: Bar[] = [
      { index: 0, type: 'mem', start: vram.start, size: 256n * MiB, busOffset: vram.busOffset },
      { index: 2, type: 'mem', start: vram.start + 256n * MiB, size: 16n * MiB, busOffset: vram.busOffset },
    ];
    super(k, { ...cfg, bars });
  }

  /** One BO per range: range i moves to BO slot i of VRAM, keeping its offset inside the slot. */
  override create(req: DmaBufRequest) {
    const ranges = req.ranges.map((r, i) => ({ ...r, offset: BigInt(i) * BO_SLOT + (r.offset % BO_SLOT) }));
    return super.create({ ...req, regionIndex: 0, ranges });
  }

  /** rfc / converter: the mapping-type ops of a BO's dma-buf. */
  matchOps(core: DmaBufMatchCore, dmabuf: DmaBuf) {
    return vfioMatchOps(core, dmabuf, core.profile === 'converter' ? CONVERTER_PAL : RFC_POSTED, this.name);
  }
}

const gpuExporter: ExporterPlugin = {
  kind: 'exporter',
  name: 'example-gpu',
  description: 'GPU-like exporter: VRAM BAR0 + register BAR2, one VRAM range per buffer object',
  profiles: ['v8', 'rfc', 'converter'],
  probe: (k, cfg) => new GpuDevice(k, cfg),
  hotReset: (devices) => vfioPciDevSetHotReset(devices as GpuDevice[]),
};

export default gpuExporter;
