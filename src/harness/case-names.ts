// The case's names of a lifecycle run's kernel objects, for violation messages (ViolationLog.names): the
// commands say dev0, buf1, att2 (opName); the kernel says vdev0, vdev0.dmabuf7 (its exporter's name for the
// dma-buf, here from a heap counter), attachment#15. A message names each object as the case does; its
// evidence keeps the kernel's name.
import type { DmaBuf, DmaBufAttachment } from '../impl/dma-buf-core.ts';
import { KObj, objName } from '../kernel/objects.ts';

/** Kernel name to case name: each device devN (its configured name), each dma-buf bufN (its name and its struct
 *  dma_buf; its priv, when a heap object, as `bufN's priv`), each attachment attN. A kernel name two objects
 *  share (a plugin that names every dma-buf alike) names neither: a message keeps it. */
export function caseNamesOf(devices: readonly { readonly name: string }[], bufs: readonly (DmaBuf | null)[], atts: readonly { readonly obj: KObj<DmaBufAttachment> | null }[]): Map<string, string> {
  const names = new Map<string, string>();
  const shared = new Set<string>();
  const add = (kernel: string, own: string) => {
    const had = names.get(kernel);
    if (had !== undefined && had !== own) shared.add(kernel);
    names.set(kernel, own);
  };
  devices.forEach((d, i) => add(d.name, `dev${i}`));
  bufs.forEach((b, i) => {
    if (!b) return;
    add(b.name, `buf${i}`);
    if (b.obj instanceof KObj) add(objName(b.obj), `buf${i}`);
    if (b.priv instanceof KObj) add(objName(b.priv), `buf${i}'s ${b.priv.kind}`);
  });
  atts.forEach((a, i) => {
    if (a.obj) add(objName(a.obj), `att${i}`);
  });
  for (const n of shared) names.delete(n);
  return names;
}
