// The exporter unit: drivers/vfio/pci/vfio_pci_dmabuf.c of the kernel under
// test, compiled whole, as an exporter plugin. The parts of vfio_pci_core.c
// the file calls but does not contain (the device and its events, memory_lock,
// the registration, pcim_p2pdma_init) are the simulated kernel's: the device
// is the port's VfioPciCore (src/impl/vfio/vfio_pci_core.ts), so every event
// takes and drops memory_lock exactly as the core does, and only the
// functions of vfio_pci_dmabuf.c (feature ioctl, move, cleanup, the
// dma_buf_ops, the iommufd private interconnect) are the C's.
//
// The bridge: each call into the C is a request on its own worker channel of
// the unit process (c/shim/bridge.c). Services that sleep in the kernel
// (down_write, dma_resv_lock, an fput that runs a release) are awaited here
// while the C thread waits in its call; they are the race scheduler's
// preemption points as in a port, and another task's request runs on
// another channel meanwhile, in the same C memory. The dma_buf_ops the core
// calls synchronously (attach, map, unmap; an unmap inside a move_notify)
// are synchronous requests, nested inside the request that called the core.
// A crash ends the unit process: it is reported (UAF-OBJ for a heap error,
// with the sanitizer's frames) and the devices of that process fail every
// later call with -EIO; the next run probes in a fresh process.
import type { Result } from '../../models/errno.ts';
import type { DmaBufRequest, PhysVec } from '../../models/pal.ts';
import type { MapType } from '../../models/pci/types.ts';
import type { DeviceConfig, ExporterPlugin } from '../harness/plugin.ts';
import { dma_buf_export, dma_buf_move_notify, type DmaBuf, type DmaBufAttachment, type DmaBufOps } from '../impl/dma-buf-core.ts';
import type { DmaBufDma, MappingKernel } from '../impl/dma-buf-mapping.ts';
import { P2pdma } from '../impl/p2pdma.ts';
import { VfioPciCore, vfioPciDevSetHotReset, type VfioDmabufPort } from '../impl/vfio/vfio_pci_core.ts';
import { VfioPciDmabufOps, __vfio_pci_memory_enabled, type VfioPciCoreDevice } from '../impl/vfio/vfio_pci_dmabuf.ts';
import type { DmaDir } from '../kernel/dma.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { KObj } from '../kernel/objects.ts';
import { OP, OP_NAME, REQ, siteOf, type CCall, type CrashReport, type CUnitProcess, type RequestOutcome } from './bridge.ts';
import { crashedC, enteredC, returnedC, servingAt, trackCSites } from './sites.ts';
import { errnoName, r1, readTable, reportCrash, serve, TRUE, type CaseState } from './conversion.ts';

const DIR_OF: Record<DmaDir, bigint> = { DMA_BIDIRECTIONAL: 0n, DMA_TO_DEVICE: 1n, DMA_FROM_DEVICE: 2n };
const FALSE = [0n, 0n] as const;
const BAR_TYPE = { mem: 1n, io: 2n } as const;
/** VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, and the argsz of a request of n ranges. */
const FEATURE_FLAGS = (1n << 16n) | 11n;
const argszOf = (n: number) => BigInt(16 + 16 * n);
/** Requests one unit process serves before it is replaced (when idle) to bound the memory runs leave behind. */
const REFRESH_AFTER = 200_000;

/** An exporter unit as a plugin, with where its C came from. */
export interface KernelCExporter extends ExporterPlugin {
  /** The bundled port of the same file: its documented findings are this unit's. */
  readonly basedOn: string;
  /** `path:line name (origin)` of each kernel item compiled. */
  readonly sources: readonly string[];
  /** vfio_pci_dma_buf_iommufd_map (003) was compiled: the private interconnect is the C's. */
  readonly iommufdMap: boolean;
  readonly proc: CUnitProcess;
  close(): void;
}

/** What one Kernel (one lifecycle run) has in the unit: C pointers and ids → its objects. */
interface Run {
  readonly k: Kernel;
  readonly mk: MappingKernel;
  readonly cs: CaseState;
  readonly devs: Map<bigint, CDevice>;
  readonly bufs: Map<bigint, { dmabuf: DmaBuf; ptr: bigint; dev: CDevice | null }>;
  readonly fds: Map<number, DmaBuf>;
  readonly atts: WeakMap<DmaBufAttachment, bigint>;
  readonly sgtOf: WeakMap<KObj<DmaBufDma>, bigint>;
  /** The device whose feature ioctl is running (names the dma-bufs it exports). */
  creating: CDevice | null;
}

/** The services of the port's mappingKernel (src/impl/vfio/vfio_pci_dmabuf.ts) for one device's route. */
function mappingKernel(k: Kernel, routeTo: (dev: string | null) => MapType): MappingKernel {
  const p2p = new P2pdma({ vendor: 'other', family: 0 });
  return {
    heap: k.heap, dma: k.dma, log: k.log,
    p2pdmaMapType: (_provider, dev) => routeTo(dev as string | null),
    busAddrMap: (provider, paddr) => p2p.pci_p2pdma_bus_addr_map({ owner: null, bus_offset: provider.busOffset }, paddr),
    assertResvHeld: (resv, site) => (resv as DmaBuf['resv']).assertHeld('LOCK-RESV', site),
  };
}

/** Violations raised from index `from` on get the C site of the call (and the trail of the C's crossings up to it). */
function annotate(log: Kernel['log'], from: number, call: CCall): void {
  const at = siteOf(call);
  for (let i = from; i < log.violations.length; i++) {
    const v = log.violations[i]!;
    if (v.evidence?.['cSite'] !== undefined) continue;
    log.violations[i] = { ...v, message: `${v.message} [${at}]`, evidence: { ...v.evidence, cSite: at, cTrail: [...trackCSites(log).trail] } };
  }
}

/** What an entry of the C returned, as its reply words say: an errno, an fd, a table; '' for a void entry. */
function returnOf(op: number, w: readonly bigint[]): string {
  const errno = (x: bigint) => errnoName(x) ?? String(BigInt.asIntN(64, x));
  switch (op) {
    case REQ.EXP_CREATE: return BigInt.asIntN(64, w[0]!) < 0n ? errno(w[0]!) : `fd ${w[0]}`;
    case REQ.EXP_ATTACH: case REQ.EXP_IOMMUFD_MAP: return w[0] === 0n ? '0' : errno(w[0]!);
    case REQ.EXP_MAP: return w[0] === 0n ? `ERR_PTR(${errno(w[1]!)})` : 'an sg_table';
    default: return '';
  }
}

/** A probed device: the simulated core (VfioPciCore: events, memory_lock, registration) over the C's vfio_pci_core_device. */
class CDevice extends VfioPciCore {
  cPtr = 0n;
  readonly id: bigint;
  /** The unit process this device lives in (its child): a device of a crashed process is gone. */
  child: unknown = null;

  constructor(readonly unit: CExporterUnit, readonly run: Run, cfg: DeviceConfig) {
    super(run.k, cfg, unit.port(run));
    this.id = unit.nextId++;
  }

  override async event(e: Parameters<VfioPciCore['event']>[0]): Promise<string> {
    const r = await super.event(e);
    // Driver unbind: devres frees the providers pcim_p2pdma_init() made (the C's own).
    if (e === 'unbind' && r === 'ok') this.unit.sync(this.run, this, 'unbind', REQ.EXP_UNBIND, [this.cPtr]);
    return r;
  }

  override isRevoked(dmabuf: DmaBuf): boolean {
    const b = this.unit.bufOf(this.run, dmabuf);
    if (!b) return true;
    const w = this.unit.sync(this.run, this, 'is-revoked', REQ.EXP_REVOKED, [b.ptr]);
    return w === null || w[0] !== 0n;
  }
}

/** The function of vfio_pci_dmabuf.c each request enters (the driver's own requests enter none). */
const ENTRY_OF: Readonly<Record<number, string>> = {
  [REQ.EXP_CREATE]: 'vfio_pci_core_feature_dma_buf', [REQ.EXP_MOVE]: 'vfio_pci_dma_buf_move', [REQ.EXP_CLEANUP]: 'vfio_pci_dma_buf_cleanup',
  [REQ.EXP_ATTACH]: 'vfio_pci_dma_buf_attach', [REQ.EXP_MAP]: 'vfio_pci_dma_buf_map', [REQ.EXP_UNMAP]: 'vfio_pci_dma_buf_unmap',
  [REQ.EXP_RELEASE]: 'vfio_pci_dma_buf_release', [REQ.EXP_IOMMUFD_MAP]: 'vfio_pci_dma_buf_iommufd_map',
};

class CExporterUnit {
  nextId = 1n;
  /** `path:line (name)` of each function compiled, by name. */
  functions = new Map<string, string>();
  private nextFd = 3;
  private readonly runs = new WeakMap<Kernel, Run>();

  constructor(readonly proc: CUnitProcess, readonly name: string, readonly hasIommufdMap: boolean) {}

  runOf(k: Kernel, cfg: DeviceConfig): Run {
    let r = this.runs.get(k);
    if (!r) {
      r = { k, mk: mappingKernel(k, cfg.routeTo), cs: { objs: new Map(), tables: new Map(), states: new Map() }, devs: new Map(), bufs: new Map(), fds: new Map(), atts: new WeakMap(), sgtOf: new WeakMap(), creating: null };
      this.runs.set(k, r);
    }
    return r;
  }

  bufOf(run: Run, dmabuf: DmaBuf) {
    for (const b of run.bufs.values()) if (b.dmabuf === dmabuf) return b;
    return undefined;
  }

  /** The C of this device is gone (its process crashed or was replaced). */
  private gone(dev: CDevice): boolean {
    return dev.child !== this.proc.currentChild();
  }

  private crash(run: Run, crash: CrashReport, what: string): void {
    reportCrash(run.mk, crash, `${this.name} ${what}`);
  }

  /** Where the C is entered: until it makes a call, a check after the step names the function. */
  private entered(run: Run, op: number): void {
    const fn = ENTRY_OF[op];
    if (fn !== undefined) enteredC(trackCSites(run.k.log), fn, this.functions.get(fn));
  }

  /** A synchronous request of `dev`; null when the unit crashed (reported) or the device is gone. */
  sync(run: Run, dev: CDevice, what: string, op: number, args: readonly bigint[], mk: MappingKernel = run.mk, attach?: DmaBufAttachment): readonly bigint[] | null {
    if (this.gone(dev)) return null;
    this.entered(run, op);
    const out = this.proc.requestSync(op, args, (call) => {
      const before = run.k.log.violations.length;
      const r = servingAt(trackCSites(run.k.log), siteOf(call), () => this.serveSync(run, call, mk, attach), OP_NAME[call.op]);
      annotate(run.k.log, before, call);
      return r;
    });
    return this.outcome(run, out, what, op);
  }

  private async async(run: Run, dev: CDevice, what: string, op: number, args: readonly bigint[]): Promise<readonly bigint[] | null> {
    if (this.gone(dev)) return null;
    this.entered(run, op);
    const out = await this.proc.requestAsync(op, args, (call) => {
      const before = run.k.log.violations.length;
      const r = servingAt(trackCSites(run.k.log), siteOf(call), () => this.serveAsync(run, call), OP_NAME[call.op]);
      if (!(r instanceof Promise)) {
        annotate(run.k.log, before, call);
        return r;
      }
      return r.then((x) => (annotate(run.k.log, before, call), x));
    });
    return this.outcome(run, out, what, op);
  }

  private outcome(run: Run, out: RequestOutcome, what: string, op: number): readonly bigint[] | null {
    const fn = ENTRY_OF[op];
    if (out.ok) {
      if (fn !== undefined) returnedC(trackCSites(run.k.log), fn, returnOf(op, out.words));
      return out.words;
    }
    if (fn !== undefined) crashedC(trackCSites(run.k.log), fn, out.crash.kind);
    this.crash(run, out.crash, what);
    return null;
  }

  private devOf(run: Run, id: bigint): CDevice {
    const d = run.devs.get(id);
    if (!d) throw new Error(`${this.name}: the C named device ${id}, which this run did not probe`);
    return d;
  }

  private buf(run: Run, id: bigint): DmaBuf {
    const b = run.bufs.get(id);
    if (!b) throw new Error(`${this.name}: the C named dma-buf ${id}, which it did not export in this run`);
    return b.dmabuf;
  }

  /** Services that answer at once. */
  private serveSync(run: Run, call: CCall, mk: MappingKernel, attach?: DmaBufAttachment): readonly [bigint, bigint] | undefined {
    const a = call.args;
    const site = siteOf(call);
    switch (call.op) {
      case OP.UP_WRITE: this.devOf(run, a[0]!).vdev.memory_lock.upWrite(site); return TRUE;
      case OP.ASSERT_WRITE: this.devOf(run, a[0]!).vdev.memory_lock.assertHeldWrite('LOCK-MEMLOCK', site); return TRUE;
      case OP.RESV_UNLOCK: this.buf(run, a[0]!).resv.unlock(site); return TRUE;
      case OP.RESV_ASSERT: this.buf(run, a[0]!).resv.assertHeld('LOCK-RESV', site); return undefined;
      case OP.GET_FILE_ACTIVE: return this.buf(run, a[0]!).file.getFileActive(site) ? TRUE : FALSE;
      case OP.EXPORT: return this.export(run, a);
      case OP.DMA_BUF_FD: {
        // get_unused_fd_flags(): -EMFILE when the run's fault plan fills the fd table (a create's 'fd' fault).
        const full = run.k.get_unused_fd_flags(site);
        if (full < 0) return r1(full);
        const fd = this.nextFd++;
        run.fds.set(fd, this.buf(run, a[0]!));
        return r1(fd);
      }
      case OP.MOVE_NOTIFY: dma_buf_move_notify(run.k, this.buf(run, a[0]!)); return TRUE;
      case OP.REG_TRYGET: return this.devOf(run, a[0]!).vdev.registration.tryGet(site) ? TRUE : FALSE;
      case OP.REG_PUT: this.devOf(run, a[0]!).vdev.registration.put(site); return TRUE;
      case OP.MEM_ENABLED: return __vfio_pci_memory_enabled(this.devOf(run, a[0]!).vdev) ? TRUE : FALSE;
      case OP.BUS_ADDR_MAP: return r1(mk.busAddrMap({ owner: '', bar: 0, busOffset: a[2]! }, a[1]!));
      case OP.DOWN_WRITE: case OP.RESV_LOCK: case OP.FPUT:
        run.k.report('LOCK-ORDER', `${site} sleeps (${call.op === OP.FPUT ? 'fput' : 'takes a sleeping lock'}) inside a dma_buf_op the core calls without sleeping`, { site });
        return TRUE;
      default: {
        const att = attach ?? { dev: null, dmabuf: { resv: null } };
        return serve(mk, run.cs, { owner: '', bar: 0, busOffset: 0n }, att as never, this.proc, call);
      }
    }
  }

  /** Services that may sleep: memory_lock, the reservation lock, an fput whose release runs now. */
  private serveAsync(run: Run, call: CCall): readonly [bigint, bigint] | undefined | Promise<readonly [bigint, bigint] | undefined> {
    const a = call.args;
    const site = siteOf(call);
    switch (call.op) {
      case OP.DOWN_WRITE: return this.devOf(run, a[0]!).vdev.memory_lock.downWrite(site).then(() => TRUE);
      case OP.RESV_LOCK: return this.buf(run, a[0]!).resv.lock(site).then(() => FALSE);
      case OP.FPUT: return this.buf(run, a[0]!).file.fput(site).then(() => TRUE);
      default: return this.serveSync(run, call, run.mk);
    }
  }

  /** dma_buf_export(): the simulated dma-buf over the C's priv, with dma_buf_ops that call the C's. */
  private export(run: Run, a: readonly bigint[]): readonly [bigint, bigint] {
    const [ptr, size, privPtr] = a as [bigint, bigint, bigint];
    const priv = run.cs.objs.get(privPtr);
    if (!priv) {
      run.k.report('UAF-OBJ', `${this.name}: dma_buf_export() with a priv the unit never allocated (0x${privPtr.toString(16)})`, { kind: 'protocol' });
      return FALSE;
    }
    const id = this.nextId++;
    const dev = run.creating;
    const dmabuf = dma_buf_export(run.k, `${dev?.name ?? 'c'}.dmabuf${priv.id}`, this.ops(run, id), size, priv);
    if (!dmabuf) return FALSE;
    run.bufs.set(id, { dmabuf, ptr, dev });
    // What the PAL checks read of a dma-buf (rules/pal.ts heldPhysVec): the C's priv->phys_vec, read when asked.
    Object.defineProperty(priv.value, 'phys_vec', { get: () => (priv.freed ? null : this.heldPhysVec(run, dev, ptr)), configurable: true });
    return r1(id);
  }

  /** priv->phys_vec of a C dma-buf, entry by entry (null when the unit cannot answer). */
  private heldPhysVec(run: Run, dev: CDevice | null, ptr: bigint): PhysVec[] | null {
    const w = this.sync(run, dev ?? [...run.devs.values()][0]!, 'phys_vec', REQ.EXP_PHYS_VEC, [ptr]);
    if (!w) return null;
    return Array.from({ length: Number(w[0]) }, (_, i) => ({ paddr: w[1 + 2 * i]!, len: w[2 + 2 * i]! }));
  }

  /** The dma_buf_ops of one C dma-buf, as the simulated dma-buf core calls them. */
  private ops(run: Run, id: bigint): DmaBufOps {
    const entry = () => run.bufs.get(id)!;
    const devOf = () => entry().dev ?? [...run.devs.values()][0]!;
    return {
      attach: (dmabuf, attachment) => {
        const w = this.sync(run, devOf(), 'attach', REQ.EXP_ATTACH, [entry().ptr, attachment.dev === null ? 0n : 1n, attachment.peer2peer ? 1n : 0n]);
        if (!w) return -5;
        if (w[0] === 0n) run.atts.set(attachment, w[1]!);
        void dmabuf;
        return Number(BigInt.asIntN(64, w[0]!));
      },
      map_dma_buf: (attachment, dir) => {
        const att = run.atts.get(attachment);
        if (att === undefined) return { ok: false as const, errno: '-EINVAL' as const };
        const dev = devOf();
        const mk = mappingKernel(run.k, dev.cfg.routeTo);
        const w = this.sync(run, dev, 'map', REQ.EXP_MAP, [att, DIR_OF[dir]], mk, attachment);
        if (!w) return { ok: false as const, errno: '-EFAULT' as const };
        const r = readTable(mk, run.cs, w, this.name, run.sgtOf);
        return r.ok ? { ok: true as const, sgt: r.dma as KObj<unknown> } : r;
      },
      unmap_dma_buf: (attachment, sgt, dir) => {
        const att = run.atts.get(attachment);
        const table = run.sgtOf.get(sgt as KObj<DmaBufDma>);
        if (att === undefined || table === undefined) {
          run.k.report('PLUGIN-THROW', `${this.name}: unmap of a table the unit did not return`, { kind: 'protocol' });
          return;
        }
        this.sync(run, devOf(), 'unmap', REQ.EXP_UNMAP, [att, table, DIR_OF[dir]], run.mk, attachment);
      },
      release: async () => {
        const e = entry();
        await this.async(run, devOf(), 'release', REQ.EXP_RELEASE, [e.ptr]);
        this.sync(run, devOf(), 'free', REQ.EXP_FREE_DMABUF, [e.ptr]);
      },
    };
  }

  /** vfio_pci_dma_buf_iommufd_map() of the C (003): the attachment's one range, or its errno. */
  iommufdMap(run: Run, attach: DmaBufAttachment): Result<PhysVec> {
    const att = run.atts.get(attach);
    const b = this.bufOf(run, attach.dmabuf);
    if (att === undefined || !b) return { ok: false, errno: '-EOPNOTSUPP' };
    const w = this.sync(run, b.dev ?? [...run.devs.values()][0]!, 'iommufd_map', REQ.EXP_IOMMUFD_MAP, [att]);
    if (!w) return { ok: false, errno: '-EIO' };
    if (w[0] !== 0n) return { ok: false, errno: errnoName(w[0]!) ?? '-EIO' };
    return { ok: true, value: { paddr: w[1]!, len: w[2]! } };
  }

  /** The functions of vfio_pci_dmabuf.c a VfioPciCore calls, as requests to the C. */
  port(run: Run): VfioDmabufPort {
    const unit = this;
    const dev = (vdev: VfioPciCoreDevice) => [...run.devs.values()].find((d) => d.vdev === vdev)!;
    return {
      async feature_dma_buf(vdev, _ops, req: DmaBufRequest): Promise<Result<DmaBuf>> {
        const d = dev(vdev);
        const args = [d.cPtr, FEATURE_FLAGS, argszOf(req.ranges.length), BigInt(req.ranges.length), BigInt(req.regionIndex), BigInt(req.openFlags), BigInt(req.flags), BigInt(req.nrRanges), ...req.ranges.flatMap((r) => [r.offset, r.length])];
        run.creating = d;
        const w = await unit.async(run, d, 'create', REQ.EXP_CREATE, args);
        run.creating = null;
        if (!w) return { ok: false, errno: '-EIO' };
        const ret = Number(BigInt.asIntN(64, w[0]!));
        if (ret < 0) return { ok: false, errno: errnoName(w[0]!) ?? '-EIO' };
        const dmabuf = run.fds.get(ret);
        return dmabuf ? { ok: true, value: dmabuf } : { ok: false, errno: '-EBADF' };
      },
      async move(vdev, revoked) {
        const d = dev(vdev);
        await unit.async(run, d, 'move', REQ.EXP_MOVE, [d.cPtr, revoked ? 1n : 0n]);
      },
      async cleanup(vdev) {
        const d = dev(vdev);
        await unit.async(run, d, 'cleanup', REQ.EXP_CLEANUP, [d.cPtr]);
      },
      ...(unit.hasIommufdMap ? { iommufd_map: (_k: Kernel, _ops: VfioPciDmabufOps, attach: DmaBufAttachment) => unit.iommufdMap(run, attach) } : {}),
      makeOps: (k, cfg) => new VfioPciDmabufOps(k, cfg.routeTo),
      // The core around the C (vfio_pci_core.c) is the simulated one of the seed: disable, then the dma-buf cleanup.
      closeOrder: 'disable-first',
    };
  }

  /** probe(): the simulated core's device, then the C's vfio_pci_core_device with its BARs and providers. */
  probe(k: Kernel, cfg: DeviceConfig): CDevice {
    if (this.proc.idle && this.proc.served > REFRESH_AFTER) this.proc.close();
    const run = this.runOf(k, cfg);
    const d = new CDevice(this, run, cfg);
    run.devs.set(d.id, d);
    const bars = Array.from({ length: 6 }, (_, i) => {
      const b = cfg.bars.find((x) => x.index === i);
      // A MEM BAR no provider serves (pcim_p2pdma_init() failed, or the BAR is unassigned) goes as type 3: the unit
      // records its resource and gives it no provider, as pcim_p2pdma_provider() answers NULL for it.
      const noProvider = b?.type === 'mem' && (cfg.p2pdma === false || b.mappable === false);
      return b ? [noProvider ? 3n : BAR_TYPE[b.type], b.start, b.size, b.busOffset] : [0n, 0n, 0n, 0n];
    }).flat();
    this.proc.ensureChild();
    d.child = this.proc.currentChild();
    const w = this.sync(run, d, 'probe', REQ.EXP_PROBE, [d.id, cfg.pageSize, ...bars]);
    d.cPtr = w?.[0] ?? 0n;
    if (!w) d.child = null;
    return d;
  }
}

/** The exporter unit of a running C process as an exporter plugin (vfio: true). */
export function cExporter(proc: CUnitProcess, opts: { name: string; basedOn: string; sources: readonly string[]; iommufdMap: boolean }): KernelCExporter {
  const unit = new CExporterUnit(proc, opts.name, opts.iommufdMap);
  for (const src of opts.sources) {
    const m = /^(\S+:\d+) (\w+) /.exec(src);
    if (m) unit.functions.set(m[2]!, `${m[1]} (${m[2]})`);
  }
  return {
    kind: 'exporter', name: opts.name, vfio: true, profiles: ['v8'], basedOn: opts.basedOn, sources: opts.sources, iommufdMap: opts.iommufdMap, proc,
    description: `drivers/vfio/pci/vfio_pci_dmabuf.c compiled from the kernel under test${opts.iommufdMap ? '' : ' (without vfio_pci_dma_buf_iommufd_map)'}`,
    probe: (k, cfg) => unit.probe(k, cfg),
    hotReset: (devices) => vfioPciDevSetHotReset(devices as VfioPciCore[]),
    close: () => proc.close(),
  };
}
