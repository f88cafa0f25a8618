// The case's names of a lifecycle run's kernel objects, for violation messages (ViolationLog.names): the
// commands say dev0, buf1, att2 (opName); the kernel says vdev0, vdev0.dmabuf7 (its exporter's name for the
// dma-buf, here from a heap counter), attachment#15. A message names each object as the case does; its
// evidence keeps the kernel's name.
import { dmaBufOf, type DmaBuf, type DmaBufAttachment } from '../impl/dma-buf-core.ts';
import { KObj, objName } from '../kernel/objects.ts';

/** The heap objects one create command allocated (its step, 0-based; the dma-buf it made, when it made one). */
export interface CreateObjects {
  readonly step: number;
  readonly buf: number | null;
  readonly objs: readonly KObj<unknown>[];
}

/** Kernel name to case name: each device devN (its configured name), each dma-buf bufN (its name and its struct
 *  dma_buf; its priv, when a heap object, as `bufN's priv`), each attachment attN. The other objects a create
 *  allocated are its dma-buf's (`buf0's phys_vec`), and those of a create that made none (it failed, or is
 *  still running) are its step's, as replay numbers steps (`step 1's priv`, `step 1's dma-buf` for the dma-buf it
 *  exported, by its name and its struct dma_buf): a failed
 *  create's unwind is reported while no bufN names them. A kernel name two objects share (a plugin that names
 *  every dma-buf alike) names neither: a message keeps it. */
export function caseNamesOf(devices: readonly { readonly name: string }[], bufs: readonly (DmaBuf | null)[], atts: readonly { readonly obj: KObj<DmaBufAttachment> | null }[], creates: readonly CreateObjects[] = []): Map<string, string> {
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
  for (const c of creates) {
    const owner = c.buf === null || !bufs[c.buf] ? `step ${c.step + 1}` : `buf${c.buf}`;
    for (const o of c.objs) {
      if (names.has(objName(o))) continue;
      // The dma-buf a failed create exported (and put, or leaked) under its kernel name and as its struct dma_buf.
      const made = dmaBufOf(o);
      if (made && !names.has(made.name)) names.set(made.name, `${owner}'s dma-buf`);
      names.set(objName(o), made ? `${owner}'s dma-buf` : `${owner}'s ${o.kind}`);
    }
  }
  for (const n of shared) names.delete(n);
  return names;
}
