// The model of the dma-buf revoke lifecycle (002 v8 10/11 vfio_pci_dmabuf.c
// and its call sites in vfio_pci_core.c / vfio_pci_config.c; 003 for the
// iommufd importer): devices, dma-bufs and attachments as plain data, and for
// every command the result and the next state, including how many
// move_notify calls each attachment must see (REV-NOTIFY: one per
// revoke/unrevoke transition, none without one).

import { spec, type Profile } from './profiles.ts';
import { setupBarmapOf, vfioDmaBufCreate, type DmaBufRequest, type DmaRange, type NvgraceMemory, type PhysVec, type VfioDeviceView } from './pal.ts';
import type { Bar, MapType } from './pci/types.ts';
import type { PageSize, U64 } from './u64.ts';

export type Importer = 'dma' | 'iommufd';
export type Power = 'D0' | 'D3hot';

export interface DevState {
  readonly open: boolean;
  readonly bound: boolean;
  /** PCI_COMMAND_MEMORY. */
  readonly cmdMem: boolean;
  readonly power: Power;
  readonly pmEngaged: boolean;
}

/** One device as its create path sees it: part of a run's configuration, never changed by a command. */
export interface DevView {
  /** Its BARs; one with `mappable: false` is unassigned (no CPU address): no provider, no iomap. */
  readonly bars: readonly Bar[];
  readonly pageSize: PageSize;
  /** nvgrace-gpu device memory (regions 2 and 4), when the exporter has it. */
  readonly nvgrace?: NvgraceMemory;
  /** false: pcim_p2pdma_init() failed -EOPNOTSUPP at probe, which vfio_pci_core_init_dev() tolerates:
   *  the PCI quirk 002 v8 09/11 plans for a device P2P must not reach ("add a PCI quirk and have
   *  pcim_p2pdma_init() fail"; no such quirk in the tree read; without CONFIG_PCI_P2PDMA the create is not
   *  built at all). pcim_p2pdma_provider() is then NULL for every BAR (03/11). Absent: p2pdma is set up. */
  readonly p2pdma?: boolean;
  /** BARs whose regions another driver holds: pci_request_selected_regions() on them fails -EBUSY. */
  readonly busy?: readonly number[];
  /** false: the exporter has no vfio_pci_dma_buf_iommufd_map() (002 without 003), so iommufd's map of
   *  its dma-bufs fails -EOPNOTSUPP (sym_vfio_pci_dma_buf_iommufd_map(): symbol_get() finds nothing). */
  readonly privateInterconnect?: boolean;
}

/** The fault points of the create path (VFIO_DEVICE_FEATURE_DMA_BUF, 002 v8 10/11) a create command may
 *  carry, in the code's order: kzalloc(priv) and kcalloc(phys_vec) (-ENOMEM, after the input checks,
 *  before get_dmabuf_phys()), dma_buf_export() (-ENOMEM), dma_buf_fd() (-EMFILE, after the dma-buf is
 *  exported and on the device's list). A fault the request does not reach changes nothing. */
export const CREATE_FAULTS = ['priv', 'phys_vec', 'export', 'fd'] as const;
export type CreateFault = (typeof CREATE_FAULTS)[number];

/** A run's configuration: the devices, and the route from them to the DMA importer's device. */
export interface LcEnv {
  readonly devs: readonly DevView[];
  /** pci_p2pdma_map_type(provider, DMA importer); iommufd has no struct device (003). */
  readonly dmaRoute: MapType;
  /** dma_iova_try_alloc() succeeds: a THRU_HOST_BRIDGE mapping is one IOVA span, else one mapping per range. */
  readonly iova: boolean;
  /** The exporter's create is not VFIO_DEVICE_FEATURE_DMA_BUF (ExporterPlugin.vfio unset): its requests
   *  are only well-formed pages of BAR 0, and where its ranges land in the BAR is its own business. */
  readonly opaque?: boolean;
}

/** The PAL a dma-buf exports (PAL-FILL) and its provider's bus offset. */
export interface BufPal {
  readonly phys: readonly PhysVec[];
  readonly size: U64;
  readonly busOffset: U64;
}

export interface BufState {
  readonly dev: number;
  readonly nRanges: number;
  readonly pal: BufPal;
  readonly revoked: boolean;
  /** The user still holds the dma-buf fd. */
  readonly userFd: boolean;
  /** vfio_pci_dma_buf_cleanup() detached it from its device. */
  readonly cleaned: boolean;
  /** The last file reference is gone and release ran. */
  readonly released: boolean;
}

export interface AttState {
  readonly buf: number;
  readonly importer: Importer;
  readonly mapped: boolean;
  readonly detached: boolean;
  /** iommufd: a map got the range from the exporter (iopt_map_dmabuf() filled pages->dmabuf.phys). */
  readonly filled: boolean;
  /** iommufd: revoked for good (IOMMUFD-REVOKED). Over the private interconnect (003) only once filled:
   *  iopt_revoke_notify() zeroes pages->dmabuf.phys.len, so a revoke before the first fill leaves the
   *  map to the exporter, which refuses a revoked dma-buf (REV-MAP). */
  readonly dead: boolean;
}

export interface LcState {
  readonly env: LcEnv;
  readonly devs: readonly DevState[];
  readonly bufs: readonly BufState[];
  readonly atts: readonly AttState[];
}

export const DEVICE_EVENTS = ['mem-off', 'mem-on', 'flr', 'af-flr', 'reset', 'd3-enter', 'd3-exit', 'pm-entry', 'pm-exit', 'close', 'open', 'unbind'] as const;
export type DeviceEvent = (typeof DEVICE_EVENTS)[number];

export type LcCmd =
  | { readonly op: 'create'; readonly dev: number; readonly region: number; readonly ranges: readonly DmaRange[]; readonly fault?: CreateFault }
  | { readonly op: 'attach'; readonly buf: number; readonly importer: Importer; readonly p2p: boolean }
  | { readonly op: 'map' | 'unmap' | 'detach' | 'access'; readonly att: number }
  | { readonly op: 'close-fd'; readonly buf: number }
  | { readonly op: 'event'; readonly dev: number; readonly event: DeviceEvent }
  | { readonly op: 'hot-reset'; readonly devs: readonly number[] };

export interface Expectation {
  /** 'ok', or the errno the command must return. */
  readonly result: string;
  /** move_notify calls each attachment must receive in this step. */
  readonly notify: ReadonlyMap<number, number>;
}

export function initialState(env: LcEnv): LcState {
  return { env, devs: env.devs.map(() => ({ open: true, bound: true, cmdMem: true, power: 'D0', pmEngaged: false })), bufs: [], atts: [] };
}

/** pcim_p2pdma_provider(): one provider per MEM BAR with a CPU address, none at all without p2pdma
 *  (models/pci/p2pdma.ts p2pdmaProvider says the same of a topology's devices). */
export function devProvider(v: DevView, owner: string, bar: number): { owner: string; bar: number; busOffset: U64 } | null {
  const b = v.bars.find((x) => x.index === bar && x.type === 'mem');
  return b && b.mappable !== false && v.p2pdma !== false ? { owner, bar, busOffset: b.busOffset } : null;
}

/** The device as vfio_pci_core_feature_dma_buf() sees it under `profile`: its providers, the BAR claim
 *  where the profile's create makes it, and whether kzalloc(priv)/kcalloc(phys_vec) succeed. */
export function createView(v: DevView, owner: string, registered: boolean, profile: Profile = 'v8', allocOk = true): VfioDeviceView {
  return {
    hasGetDmabufPhys: true, bars: v.bars, pageSize: v.pageSize, registrationAlive: registered,
    // Methods, not arrow properties: under tsx (esbuild keepNames) each named arrow costs a defineProperty per create.
    provider(bar) { return devProvider(v, owner, bar); },
    allocPriv() { return allocOk; },
    ...(v.nvgrace ? { nvgrace: v.nvgrace } : {}), ...(spec(profile).createClaimsBar ? { setupBarmap: setupBarmapOf(v.bars, v.busy) } : {}),
  };
}

/** The VFIO_DEVICE_FEATURE_DMA_BUF request of a create command. */
export function createRequest(c: Extract<LcCmd, { op: 'create' }>): DmaBufRequest {
  return { regionIndex: c.region, openFlags: 0, flags: 0, nrRanges: c.ranges.length, ranges: c.ranges };
}

/** __vfio_pci_memory_enabled(): memory decoding on and the device in D0. */
export function memoryEnabled(d: DevState): boolean {
  return d.cmdMem && d.power === 'D0';
}

/** A dma-buf's file is alive while the user or an importer holds it. */
function fileActive(s: { bufs: BufState[]; atts: AttState[] }, b: number): boolean {
  return s.bufs[b]!.userFd || s.atts.some((a) => a.buf === b && !a.detached);
}

/** Mutable working copy of a state for one step. */
class Step {
  readonly devs: DevState[];
  readonly bufs: BufState[];
  readonly atts: AttState[];
  readonly notify = new Map<number, number>();

  constructor(readonly s: LcState, readonly profile: Profile) {
    this.devs = [...s.devs];
    this.bufs = [...s.bufs];
    this.atts = [...s.atts];
  }

  dev(d: number, patch: Partial<DevState>): void {
    this.devs[d] = { ...this.devs[d]!, ...patch };
  }

  /** dma_buf_move_notify(): every live attachment is told; importers drop their mapping. */
  notifyBuf(b: number): void {
    this.atts.forEach((a, i) => {
      if (a.buf !== b || a.detached) return;
      this.notify.set(i, (this.notify.get(i) ?? 0) + 1);
      this.atts[i] = { ...a, mapped: false, dead: a.dead || this.revokedForGood(a) };
    });
  }

  /** iommufd stays revoked (IOMMUFD-REVOKED): over the private interconnect once its pages were filled, else at once. */
  private revokedForGood(a: AttState): boolean {
    return a.importer === 'iommufd' && (a.filled || spec(this.profile).iommufdPath !== 'private-interconnect');
  }

  /** vfio_pci_dma_buf_move(): each live dma-buf of the device that changes state is notified once. */
  move(d: number, revoked: boolean): void {
    this.bufs.forEach((b, i) => {
      if (b.dev !== d || b.cleaned || b.released || b.revoked === revoked) return;
      this.bufs[i] = { ...b, revoked };
      this.notifyBuf(i);
    });
  }

  /** Revoke, run `change`, then unrevoke if memory is enabled afterwards. */
  zapped(d: number, change: Partial<DevState> = {}): void {
    this.move(d, true);
    this.dev(d, change);
    if (memoryEnabled(this.devs[d]!)) this.move(d, false);
  }

  /** vfio_pci_dma_buf_cleanup(): revoked for good, detached from the device. */
  cleanup(d: number): void {
    this.bufs.forEach((b, i) => {
      if (b.dev !== d || b.cleaned || b.released) return;
      const transition = !b.revoked;
      this.bufs[i] = { ...b, revoked: true, cleaned: true };
      if (transition) this.notifyBuf(i);
    });
  }

  /** The last reference dropped: release. */
  releaseIfUnused(b: number): void {
    if (!this.bufs[b]!.released && !fileActive(this, b)) this.bufs[b] = { ...this.bufs[b]!, released: true };
  }

  done(result: string): { next: LcState; expect: Expectation } {
    return { next: { env: this.s.env, devs: this.devs, bufs: this.bufs, atts: this.atts }, expect: { result, notify: this.notify } };
  }
}

function deviceEvent(st: Step, d: number, event: DeviceEvent): string {
  const dev = st.devs[d]!;
  if (event === 'open') {
    if (!dev.bound) return '-ENODEV';
    if (dev.open) return '-EBUSY';
    st.dev(d, { open: true, cmdMem: true, power: 'D0', pmEngaged: false });
    return 'ok';
  }
  if (event === 'unbind') {
    if (!dev.bound) return '-ENODEV';
    if (dev.open) return '-EBUSY';
    st.dev(d, { bound: false });
    return 'ok';
  }
  if (!dev.open) return '-EBADF';
  switch (event) {
    case 'mem-off':
      st.move(d, true);
      st.dev(d, { cmdMem: false });
      break;
    case 'mem-on':
      st.dev(d, { cmdMem: true });
      if (memoryEnabled(st.devs[d]!)) st.move(d, false);
      break;
    case 'flr':
    case 'af-flr':
      st.zapped(d);
      break;
    case 'reset':
      st.zapped(d, { power: 'D0' });
      break;
    case 'd3-enter':
      st.zapped(d, { power: 'D3hot' });
      break;
    case 'd3-exit':
      st.dev(d, { power: 'D0' });
      if (memoryEnabled(st.devs[d]!)) st.move(d, false);
      break;
    case 'pm-entry':
      st.move(d, true);
      if (dev.pmEngaged) return '-EINVAL';
      st.dev(d, { pmEngaged: true, power: 'D3hot' });
      break;
    case 'pm-exit':
      if (!dev.pmEngaged) return 'ok';
      st.dev(d, { pmEngaged: false, power: 'D0' });
      if (memoryEnabled(st.devs[d]!)) st.move(d, false);
      break;
    case 'close':
      st.dev(d, { open: false, cmdMem: false });
      st.cleanup(d);
      break;
  }
  return 'ok';
}

function mapResult(st: Step, a: AttState, profile: Profile): string {
  const b = st.bufs[a.buf]!;
  if (a.mapped) return '-EBUSY';
  // ROUTE-NOMAP: only BUS_ADDR and THRU_HOST_BRIDGE can be mapped.
  if (a.importer === 'dma') return b.revoked ? '-ENODEV' : st.s.env.dmaRoute === 'BUS_ADDR' || st.s.env.dmaRoute === 'THRU_HOST_BRIDGE' ? 'ok' : '-EINVAL';
  if (a.dead) return '-ENODEV';
  if (spec(profile).iommufdPath === 'private-interconnect' && st.s.env.devs[b.dev]!.privateInterconnect === false) return '-EOPNOTSUPP';
  if (b.revoked) return '-ENODEV';
  return b.nRanges !== 1 && !spec(profile).iommufdMultiRange ? '-EOPNOTSUPP' : 'ok';
}

/** The result of `c` in state `s`, and the next state (models/profiles.ts says what differs by profile). */
export function step(s: LcState, c: LcCmd, profile: Profile = 'v8'): { next: LcState; expect: Expectation } {
  const st = new Step(s, profile);
  switch (c.op) {
    case 'create': {
      const dev = st.devs[c.dev]!;
      if (!dev.open) return st.done('-EBADF');
      // PAL-INPUT / PAL-FILL: models/pal.ts answers the request; a fault it reaches fails the create and leaves nothing behind.
      const pal = vfioDmaBufCreate(createView(s.env.devs[c.dev]!, `dev${c.dev}`, dev.bound, profile, c.fault !== 'priv' && c.fault !== 'phys_vec'), createRequest(c));
      if (!pal.ok) return st.done(pal.errno);
      if (c.fault === 'export') return st.done('-ENOMEM');
      if (c.fault === 'fd') return st.done('-EMFILE');
      const { phys, size, provider } = pal.value;
      st.bufs.push({ dev: c.dev, nRanges: c.ranges.length, pal: { phys, size, busOffset: provider.busOffset }, revoked: !memoryEnabled(dev), userFd: true, cleaned: false, released: false });
      return st.done('ok');
    }
    case 'attach': {
      const b = st.bufs[c.buf]!;
      if (!b.userFd) return st.done('-EBADF');
      // MATCH-CLEANED: with mapping types, match_mapping refuses a cleaned-up dma-buf first.
      if (spec(profile).mappingTypes && b.cleaned) return st.done('-ENODEV');
      if (c.importer === 'dma' && !c.p2p) return st.done(spec(profile).attachWithoutP2P);
      if (b.revoked) return st.done('-ENODEV');
      st.atts.push({ buf: c.buf, importer: c.importer, mapped: false, detached: false, filled: false, dead: false });
      return st.done('ok');
    }
    case 'close-fd': {
      if (!st.bufs[c.buf]!.userFd) return st.done('-EBADF');
      st.bufs[c.buf] = { ...st.bufs[c.buf]!, userFd: false };
      st.releaseIfUnused(c.buf);
      return st.done('ok');
    }
    case 'event':
      return st.done(deviceEvent(st, c.dev, c.event));
    case 'hot-reset': {
      if (c.devs.some((d) => !st.devs[d]!.open)) return st.done('-EINVAL');
      for (const d of c.devs) st.move(d, true);
      for (const d of [...c.devs].reverse()) if (memoryEnabled(st.devs[d]!)) st.move(d, false);
      return st.done('ok');
    }
  }
  const a = st.atts[c.att]!;
  if (a.detached) return st.done('-EBADF');
  switch (c.op) {
    case 'map': {
      const r = mapResult(st, a, profile);
      if (r === 'ok') st.atts[c.att] = { ...a, mapped: true, filled: true };
      return st.done(r);
    }
    case 'unmap':
      if (!a.mapped) return st.done('-EINVAL');
      st.atts[c.att] = { ...a, mapped: false };
      return st.done('ok');
    case 'detach':
      st.atts[c.att] = { ...a, mapped: false, detached: true };
      st.releaseIfUnused(a.buf);
      return st.done('ok');
    case 'access':
      return st.done(a.mapped ? 'ok' : '-ENODEV');
  }
}

/** The device paths that revoke, change the device and restore under one hold of memory_lock (002 v8 10/11:
 *  vfio_pci_zap_and_down_write_memory_lock(), vfio_pci_dma_buf_move(vdev, true), the change, then
 *  `if (__vfio_pci_memory_enabled(vdev)) vfio_pci_dma_buf_move(vdev, false)` before up_write()), and the change. */
const ZAPPING: Partial<Record<DeviceEvent, Partial<DevState>>> = { flr: {}, 'af-flr': {}, reset: { power: 'D0' }, 'd3-enter': { power: 'D3hot' } };

/** Such a path (or a hot reset, which revokes every device of its set, then restores them in reverse) as a command that
 *  does not take memory_lock sees it when it runs meanwhile: attach and map test priv->revoked under the reservation
 *  lock alone (002 v8 10/11 vfio_pci_dma_buf_attach(), vfio_pci_dma_buf_map()), so they may take effect while the
 *  dma-bufs are revoked, before the restore. `revoked` is the state in between, `restore` ends the path from whatever
 *  state the other command left. null: `c` is no such path (or fails before it revokes). A command that takes
 *  memory_lock (a create, another device path) runs before or after the whole path, never in between. */
export function zapHalves(s: LcState, c: LcCmd, profile: Profile = 'v8'): { revoked: LcState; restore: (s: LcState) => LcState } | null {
  const devs = c.op === 'hot-reset' ? c.devs : c.op === 'event' && ZAPPING[c.event] ? [c.dev] : null;
  if (!devs || devs.some((d) => !s.devs[d]!.open)) return null;
  const st = new Step(s, profile);
  for (const d of devs) st.move(d, true);
  if (c.op === 'event') st.dev(c.dev, ZAPPING[c.event]!);
  return {
    revoked: st.done('ok').next,
    restore: (after) => {
      const rs = new Step(after, profile);
      for (const d of [...devs].reverse()) if (memoryEnabled(rs.devs[d]!)) rs.move(d, false);
      return rs.done('ok').next;
    },
  };
}

/** REV-WINDOW: which attachments may hold a usable mapping in a state. */
export function mayHoldMapping(s: LcState, att: number): boolean {
  const a = s.atts[att]!;
  const b = s.bufs[a.buf]!;
  return !a.detached && !b.revoked && !b.cleaned && memoryEnabled(s.devs[b.dev]!);
}
