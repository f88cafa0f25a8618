// The lifecycle harness: a system under test (exporter and importer plugins
// on a simulated kernel) driven side by side with models/lifecycle.ts. After
// every command it compares results, state and move_notify counts with the
// model and runs the per-step checkers (REV-WINDOW, DMA-LEAK, IOMMUFD-MMIO,
// LOCK-BALANCE); the kernel services report LOCK/UAF/DMA as they go.
import { initialState, mayHoldMapping, step, type DeviceEvent, type Expectation, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import type { DmaBufRequest } from '../../models/pal.ts';
import type { MapType } from '../../models/pci/types.ts';
import type { Profile } from '../../models/profiles.ts';
import { IOMMU_MMIO } from '../kernel/iommu.ts';
import { Kernel } from '../kernel/kernel.ts';
import type { DmaBuf, DmaBufAttachment } from '../impl/dma-buf-core.ts';
import { iommufdDomain } from '../impl/iommufd.ts';
import type { Lane, Step } from '../report/types.ts';
import type { RuleId } from '../rules/registry.ts';
import type { DeviceConfig, ExporterDevice, ExporterPlugin, ImporterAttachment, ImporterPlugin } from './plugin.ts';

export interface LifecycleConfig {
  readonly exporter: ExporterPlugin;
  readonly importers: { readonly dma: ImporterPlugin; readonly iommufd: ImporterPlugin };
  readonly devices: number;
  /** Route from the exporter to the DMA importer's device. */
  readonly route: MapType;
  readonly checkers?: boolean;
  /** The design checked (models/profiles.ts); v8 when absent. */
  readonly profile?: Profile;
}

const PAGE = 4096n;
const BAR0 = { index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x100000n, busOffset: 0n };

function deviceConfig(i: number, route: MapType): DeviceConfig {
  return { name: `vdev${i}`, bars: [{ ...BAR0, start: BAR0.start + (BigInt(i) << 32n) }], pageSize: PAGE, routeTo(dev) { return dev === null ? 'THRU_HOST_BRIDGE' : route; } };
}

/** The request a create command sends: nRanges page-sized ranges, or a misaligned one. */
export function requestFor(nRanges: number, valid: boolean): DmaBufRequest {
  const ranges = Array.from({ length: nRanges }, (_, i) => ({ offset: BigInt(i) * 2n * PAGE + (valid ? 0n : 1n), length: PAGE }));
  return { regionIndex: 0, openFlags: 0, flags: 0, nrRanges: nRanges, ranges };
}

interface RealAtt {
  readonly handle: ImporterAttachment | null;
  readonly attachment: DmaBufAttachment | null;
  readonly importer: 'dma' | 'iommufd';
}

/** The implementation side of one run. */
export class Real {
  readonly k: Kernel;
  readonly devices: ExporterDevice[];
  readonly bufs: (DmaBuf | null)[] = [];
  readonly atts: RealAtt[] = [];
  private notified = new Map<DmaBufAttachment, number>();

  constructor(readonly cfg: LifecycleConfig) {
    this.k = new Kernel({ checkers: cfg.checkers ?? true, faults: { allocFails: [], syncFails: false, iovaRefused: true } });
    this.devices = Array.from({ length: cfg.devices }, (_, i) => cfg.exporter.probe(this.k, deviceConfig(i, cfg.route)));
  }

  /** Count move_notify per attachment by wrapping the importer op the core calls. */
  private track(a: DmaBufAttachment): void {
    const ops = a.importer_ops;
    const inner = ops.move_notify?.bind(ops);
    (a as { importer_ops: typeof ops }).importer_ops = {
      ...ops,
      move_notify: (x) => {
        this.notified.set(a, (this.notified.get(a) ?? 0) + 1);
        inner?.(x);
      },
    };
  }

  async exec(c: LcCmd): Promise<string> {
    switch (c.op) {
      case 'create': {
        const r = await this.devices[c.dev]!.create(requestFor(c.nRanges, c.valid));
        if (r.ok) this.bufs.push(r.value);
        return r.ok ? 'ok' : r.errno;
      }
      case 'attach': {
        const dmabuf = this.bufs[c.buf];
        if (!dmabuf || !this.userFd.has(dmabuf)) return '-EBADF';
        const before = new Set(dmabuf.attachments);
        const plugin = this.cfg.importers[c.importer];
        const dev = `${c.importer}-client`;
        const route = deviceConfig(this.devOf(dmabuf), this.cfg.route).routeTo(c.importer === 'iommufd' ? null : dev);
        const r = await plugin.attach(this.k, dmabuf, this.devices[this.devOf(dmabuf)]!, { p2p: c.p2p, dev, route, profile: this.cfg.profile ?? 'v8' });
        if (!r.ok) return r.errno;
        const added = [...dmabuf.attachments].find((x) => !before.has(x));
        if (added) this.track(added.value);
        this.atts.push({ handle: r.value, attachment: added?.value ?? null, importer: c.importer });
        return 'ok';
      }
      case 'close-fd': {
        const dmabuf = this.bufs[c.buf];
        if (!dmabuf || !this.userFd.delete(dmabuf)) return '-EBADF';
        await dmabuf.file.fput('close');
        return 'ok';
      }
      case 'event':
        return this.devices[c.dev]!.event(c.event);
      case 'hot-reset':
        return this.cfg.exporter.hotReset ? this.cfg.exporter.hotReset(c.devs.map((d) => this.devices[d]!)) : '-EOPNOTSUPP';
    }
    const a = this.atts[c.att];
    if (!a?.handle || this.detached.has(c.att)) return '-EBADF';
    switch (c.op) {
      case 'map':
        return a.handle.map();
      case 'unmap':
        return a.handle.unmap();
      case 'detach':
        this.detached.add(c.att);
        await a.handle.detach();
        return 'ok';
      case 'access':
        return a.handle.access();
    }
  }

  readonly userFd = new Set<DmaBuf>();
  readonly detached = new Set<number>();
  private readonly bufDev = new Map<DmaBuf, number>();

  devOf(b: DmaBuf): number {
    return this.bufDev.get(b) ?? 0;
  }

  /** Run one command as a top-level operation; returns its result and the move_notify counts. */
  async run(c: LcCmd, index: number): Promise<{ result: string; notify: Map<number, number> }> {
    this.notified = new Map();
    this.k.beginOp(opName(c), index);
    const nBufs = this.bufs.length;
    const result = await this.exec(c);
    if (c.op === 'create' && this.bufs.length > nBufs) {
      const b = this.bufs[nBufs]!;
      this.userFd.add(b);
      this.bufDev.set(b, c.dev);
    }
    this.k.endOp();
    const notify = new Map<number, number>();
    this.atts.forEach((a, i) => {
      const n = a.attachment ? this.notified.get(a.attachment) : undefined;
      if (n) notify.set(i, n);
    });
    return { result, notify };
  }
}

export function opName(c: LcCmd): string {
  switch (c.op) {
    case 'create': return `create(dev${c.dev}, ${c.nRanges} range${c.nRanges > 1 ? 's' : ''}${c.valid ? '' : ', misaligned'})`;
    case 'attach': return `attach(buf${c.buf}, ${c.importer}${c.importer === 'dma' && !c.p2p ? ', no p2p' : ''})`;
    case 'close-fd': return `close(buf${c.buf} fd)`;
    case 'event': return `${c.event}(dev${c.dev})`;
    case 'hot-reset': return `hot-reset(${c.devs.map((d) => `dev${d}`).join(', ')})`;
    default: return `${c.op}(att${c.att})`;
  }
}

/** Which lanes a command runs between, for the sequence diagram. */
export function lanesOf(c: LcCmd, s?: LcState): { from: Lane; to: Lane } {
  switch (c.op) {
    case 'create': return { from: 'user', to: 'exporter' };
    case 'close-fd': return { from: 'user', to: 'core' };
    case 'event': case 'hot-reset': return { from: 'device', to: 'exporter' };
    case 'attach': return { from: 'importer', to: 'core' };
    // iommufd maps into its IOMMU domain; a DMA importer maps through the dma-buf core.
    default: return { from: 'importer', to: s?.atts[c.att]?.importer === 'iommufd' ? 'iommu' : 'core' };
  }
}

/** The rule a wrong result of this command breaks. */
export function resultRule(c: LcCmd, s: LcState): RuleId {
  switch (c.op) {
    case 'create': return 'REV-INIT';
    case 'attach': return 'REV-MAP';
    case 'map': return s.atts[c.att]?.importer === 'iommufd' ? (s.atts[c.att]!.dead ? 'IOMMUFD-REVOKED' : 'IOMMUFD-ONE') : 'REV-MAP';
    case 'event': return c.event === 'close' || c.event === 'unbind' ? 'REV-CLEANUP' : 'REV-WINDOW';
    default: return 'REV-WINDOW';
  }
}

/** Compare one step of the implementation with the model; report what differs. */
export function compareStep(real: Real, c: LcCmd, before: LcState, after: LcState, exp: Expectation, got: { result: string; notify: Map<number, number> }): void {
  const k = real.k;
  if (got.result !== exp.result) k.report(resultRule(c, before), `${opName(c)} returned ${got.result}, the model says ${exp.result}`, { port: got.result, model: exp.result });
  after.bufs.forEach((b, i) => {
    const dmabuf = real.bufs[i];
    if (!dmabuf) return;
    if (dmabuf.file.released !== b.released) k.report('UAF-REF', `buf${i} ${dmabuf.file.released ? 'was released' : 'is still alive'}, the model says ${b.released ? 'released' : 'alive'}`, { buf: i });
    if (b.released || dmabuf.file.released) return;
    const revoked = real.devices[real.devOf(dmabuf)]!.isRevoked(dmabuf);
    if (revoked === b.revoked) return;
    const rule: RuleId = b.cleaned ? 'REV-CLEANUP' : i === before.bufs.length ? 'REV-INIT' : 'REV-WINDOW';
    k.report(rule, `buf${i} is ${revoked ? 'revoked' : 'not revoked'}, the model says ${b.revoked ? 'revoked' : 'not revoked'}`, { buf: i });
  });
  const attIds = new Set([...exp.notify.keys(), ...got.notify.keys()]);
  for (const i of attIds) {
    const want = exp.notify.get(i) ?? 0;
    const have = got.notify.get(i) ?? 0;
    if (want !== have) k.report('REV-NOTIFY', `att${i} got ${have} move_notify call(s) in ${opName(c)}, the model says ${want}`, { att: i, port: have, model: want });
  }
  checkMappings(real, after);
}

/** REV-WINDOW, DMA-LEAK and IOMMUFD-MMIO after a step. */
function checkMappings(real: Real, s: LcState): void {
  const k = real.k;
  let dmaMapped = 0;
  const domain = iommufdDomain(k);
  real.atts.forEach((a, i) => {
    const mapped = !real.detached.has(i) && a.handle?.mapped() === true;
    if (mapped && a.importer === 'dma') dmaMapped++;
    if (mapped && !mayHoldMapping(s, i)) k.report('REV-WINDOW', `att${i} (${a.importer}) still holds a usable mapping of revoked or disabled MMIO`, { att: i });
    const area = (a.handle as { area?: string } | null)?.area;
    if (a.importer === 'iommufd' && area) {
      const maps = domain.of(area);
      const want = mapped ? ((a.handle as { nranges?: number }).nranges ?? 1) : 0;
      if (maps.length !== want) k.report('IOMMUFD-MMIO', `att${i} has ${maps.length} IOMMU mapping(s), ${want || 'none'} expected`, { att: i });
      if (maps.some((m) => !(m.prot & IOMMU_MMIO))) k.report('IOMMUFD-MMIO', `att${i} is mapped without IOMMU_MMIO`, { att: i });
      if (maps.length > 0 && !mayHoldMapping(s, i)) k.report('IOMMUFD-MMIO', `att${i} keeps revoked MMIO in the IOMMU domain`, { att: i });
    }
  });
  const live = k.dma.live();
  if (dmaMapped === 0 && (live.mappings > 0 || live.iovas > 0)) k.report('DMA-LEAK', `${live.mappings} DMA mapping(s) and ${live.iovas} IOVA allocation(s) live with no DMA importer mapped`, live);
}

/** A command as generated: selectors resolved against the model state when it runs. */
export type GenCmd =
  | { readonly op: 'create'; readonly dev: number; readonly nRanges: number; readonly valid: boolean }
  | { readonly op: 'attach'; readonly sel: number; readonly importer: 'dma' | 'iommufd'; readonly p2p: boolean }
  | { readonly op: 'map' | 'unmap' | 'detach' | 'access'; readonly sel: number }
  | { readonly op: 'close-fd'; readonly sel: number }
  | { readonly op: 'event'; readonly dev: number; readonly event: DeviceEvent; readonly sel: number }
  | { readonly op: 'hot-reset' };

/** The object a selector names: state-aware among the live ones, or literally (one past the end: none). */
function pick<T>(all: readonly T[], live: (x: T) => boolean, sel: number, stateAware: boolean): number | null {
  if (all.length === 0) return null;
  if (!stateAware) return sel % (all.length + 1) === all.length ? null : sel % (all.length + 1);
  const ids = all.map((x, i) => (live(x) ? i : -1)).filter((i) => i >= 0);
  return ids.length ? ids[sel % ids.length]! : sel % all.length;
}

/** Resolve selectors: state-aware picks among live objects, or literal indices (the uniform baseline). */
export function resolve(g: GenCmd, s: LcState, stateAware: boolean): LcCmd | null {
  switch (g.op) {
    case 'create': return { ...g, dev: g.dev % s.devs.length };
    case 'event': return stateAware ? awareEvent(g, s) : { op: 'event', dev: g.dev % s.devs.length, event: g.event };
    case 'hot-reset': return { op: 'hot-reset', devs: s.devs.map((_, i) => i) };
    case 'attach': {
      const b = pick(s.bufs, (x) => x.userFd, g.sel, stateAware);
      return b === null ? null : { op: 'attach', buf: b, importer: g.importer, p2p: g.p2p };
    }
    case 'close-fd': {
      const b = pick(s.bufs, (x) => x.userFd, g.sel, stateAware);
      return b === null ? null : { op: 'close-fd', buf: b };
    }
    default: {
      const live = g.op === 'unmap' || g.op === 'access' ? (a: LcState['atts'][number]) => a.mapped : (a: LcState['atts'][number]) => !a.detached;
      const a = pick(s.atts, live, g.sel, stateAware);
      return a === null ? null : { op: g.op, att: a };
    }
  }
}

/** State-aware device events: mostly on a device that has dma-bufs, and on a
 *  closed device mostly the events that bring it back (open) or away (unbind). */
function awareEvent(g: Extract<GenCmd, { op: 'event' }>, s: LcState): LcCmd {
  const withBufs = s.bufs.filter((b) => !b.released);
  const dev = withBufs.length && g.sel % 3 !== 0 ? withBufs[g.sel % withBufs.length]!.dev : g.dev % s.devs.length;
  const d = s.devs[dev]!;
  const closedOnly = g.event === 'open' || g.event === 'unbind';
  const event: DeviceEvent = !d.open && !closedOnly && g.sel % 4 !== 0 ? (g.sel % 2 ? 'open' : 'unbind') : g.event;
  return { op: 'event', dev, event };
}

export interface LifecycleRun {
  readonly steps: Step[];
  readonly violations: Real['k']['log']['violations'];
  readonly model: LcState;
}

/** Run commands (already resolved) on a fresh system and model; stop after the first violating step. */
export async function runLifecycle(cfg: LifecycleConfig, cmds: readonly LcCmd[], opts: { keepGoing?: boolean } = {}): Promise<LifecycleRun> {
  const real = new Real(cfg);
  let model = initialState(cfg.devices);
  const steps: Step[] = [];
  for (const [i, c] of cmds.entries()) {
    const { next, expect } = step(model, c, cfg.profile);
    const got = await real.run(c, i);
    compareStep(real, c, model, next, expect, got);
    const broke = real.k.log.violations.find((v) => v.step === i);
    steps.push({ index: i, ...lanesOf(c, model), command: opName(c), result: got.result, expected: expect.result, ...(broke ? { rule: broke.rule } : {}) });
    model = next;
    if (broke && !opts.keepGoing) break;
  }
  return { steps, violations: real.k.log.violations, model };
}
