// The PAL checkers (PAL-INPUT, PAL-FILL, PAL-SIZE, PAL-LIST): the VFIO
// create path of an implementation against models/pal.ts.
import { resultTag, type Result } from '../../models/errno.ts';
import { exportedMemory, vfioDmaBufCreate, type DmaBufRequest, type Pal, type VfioDeviceView } from '../../models/pal.ts';
import { hex } from '../../models/u64.ts';
import { vfioDmaBufPhysFromRequest } from '../impl/vfio/dmabuf_phys.ts';
import type { RuleId } from './registry.ts';
import type { ViolationLog } from './violation.ts';

export interface PalImpl {
  readonly name: string;
  readonly bugOf?: RuleId;
  create(view: VfioDeviceView, req: DmaBufRequest): Result<Pal>;
}

/** The faithful create path (002 v8 10/11). */
export const PAL_CREATE: PalImpl = { name: 'vfio_pci_core_feature_dma_buf', create: (v, r) => vfioDmaBufPhysFromRequest(v, r) };

export function checkPal(impl: PalImpl, view: VfioDeviceView, req: DmaBufRequest, log: ViolationLog): void {
  const model = vfioDmaBufCreate(view, req);
  const got = impl.create(view, req);
  if (resultTag(got) !== resultTag(model)) log.report('PAL-INPUT', `create returned ${resultTag(got)}, the model says ${resultTag(model)}`, { port: resultTag(got), model: resultTag(model), region: req.regionIndex });
  if (!got.ok) return;
  const mem = exportedMemory(view, req.regionIndex)!;
  const end = mem.start + mem.len;
  got.value.phys.forEach((p, i) => {
    if (p.paddr < mem.start || p.paddr + p.len > end) log.report('PAL-LIST', `entry ${i} ${hex(p.paddr)}+${hex(p.len)} is outside the exported region [${hex(mem.start)}, ${hex(end)})`, { index: i });
  });
  if (!model.ok) return;
  const want = model.value;
  if (got.value.size !== want.size) log.report('PAL-SIZE', `dma-buf size ${hex(got.value.size)}, the ranges add up to ${hex(want.size)}`, { port: hex(got.value.size), model: hex(want.size) });
  const same = got.value.phys.length === want.phys.length && want.phys.every((w, i) => got.value.phys[i]!.paddr === w.paddr && got.value.phys[i]!.len === w.len);
  if (!same) log.report('PAL-FILL', `PAL [${got.value.phys.map((p) => `${hex(p.paddr)}+${hex(p.len)}`).join(', ')}] differs from the model [${want.phys.map((p) => `${hex(p.paddr)}+${hex(p.len)}`).join(', ')}]`, {});
}

/** The documented finding of the faithful create path (reports/FINDINGS.md). */
export function barEndsAtTop(view: VfioDeviceView, req: DmaBufRequest): boolean {
  const bar = view.bars.find((b) => b.index === req.regionIndex);
  return bar !== undefined && bar.start + bar.size === 1n << 64n;
}
