// The lifecycle harness: a system under test (exporter and importer plugins
// on a simulated kernel) driven side by side with models/lifecycle.ts. After
// every command it compares results, state and move_notify counts with the
// model and runs the per-step checkers (REV-WINDOW, DMA-LEAK, IOMMUFD-MMIO,
// LOCK-BALANCE); the kernel services report LOCK/UAF/DMA as they go.
import type { Platform } from '../kernel/platform.ts';
import { createRequest, initialState, step, type CreateFault, type DevView, type Expectation, type LcCmd, type LcEnv, type LcState } from '../../models/lifecycle.ts';
import type { DmaBufRequest, NvgraceMemory } from '../../models/pal.ts';
import type { Bar, MapType } from '../../models/pci/types.ts';
import { spec, type Profile } from '../../models/profiles.ts';
import { hex } from '../../models/u64.ts';
import { barStart, deviceBars, type GenCmd, type LcSetup } from '../gen/lifecycle.ts';
import { Kernel } from '../kernel/kernel.ts';
import type { DmaBuf, DmaBufAttachOps, DmaBufAttachment } from '../impl/dma-buf-core.ts';
import type { Lane, Step } from '../report/types.ts';
import type { RuleId } from '../rules/registry.ts';
import { checkCreateUnwind, checkCreated, checkHeldAtMap, checkMappings, checkSegments } from './lifecycle-checks.ts';
import { armCreateFault } from '../kernel/faults.ts';
import type { KObj } from '../kernel/objects.ts';
import type { CaseNames } from '../rules/violation.ts';
import { caseNamesOf, type CreateObjects } from './case-names.ts';
import { fromInput, toInput } from './suite.ts';
import { caseRan } from './heartbeat.ts';
import type { DeviceConfig, ExporterDevice, ExporterPlugin, ImporterAttachment, ImporterPlugin } from './plugin.ts';

export interface LifecycleConfig {
  readonly exporter: ExporterPlugin;
  readonly importers: { readonly dma: ImporterPlugin; readonly iommufd: ImporterPlugin };
  readonly devices: number;
  /** Route from the exporter to the DMA importer's device in the default setup (races, exhaustive
   *  mode, inputs without a setup); a generated run has its own (LcSetup). */
  readonly route: MapType;
  readonly checkers?: boolean;
  /** The design checked (models/profiles.ts); v8 when absent. */
  readonly profile?: Profile;
  /** The simulated machine (src/kernel/platform.ts); DEFAULT_PLATFORM when absent. */
  readonly platform?: Platform;
}

const PAGE = 4096n;
const BAR0: Bar = { index: 0, type: 'mem', start: barStart(0), size: 0x100000n, busOffset: 0n };

/** The setup of a run that has none: one 1 MiB MEM BAR, 4 KiB pages, the configured route, IOVA refused. */
export function defaultSetup(cfg: Pick<LifecycleConfig, 'route'>): LcSetup {
  return { bars: [BAR0], pageSize: PAGE, dmaRoute: cfg.route, iova: false };
}

/** Device i's configuration. The device facts of the VFIO create path (p2pdma, BARs another driver holds,
 *  unassigned BARs) are given only to a VFIO exporter: the model does not ask them of an exporter whose create is its own. */
function deviceConfig(i: number, setup: LcSetup, vfio: boolean): DeviceConfig {
  const facts = vfio ? { ...(setup.p2pdma === false ? { p2pdma: false } : {}), ...(setup.busy?.length ? { busy: setup.busy } : {}) } : {};
  const bars = vfio ? deviceBars(setup, i) : deviceBars(setup, i).map(({ mappable: _m, ...b }) => b);
  return { name: `vdev${i}`, bars, pageSize: setup.pageSize, ...facts, routeTo(dev) { return dev === null ? 'THRU_HOST_BRIDGE' : setup.dmaRoute; } };
}

/** The request a legacy create command sent: nRanges page-sized ranges of BAR 0, or a misaligned one. */
export function requestFor(nRanges: number, valid: boolean): DmaBufRequest {
  const ranges = Array.from({ length: nRanges }, (_, i) => ({ offset: BigInt(i) * 2n * PAGE + (valid ? 0n : 1n), length: PAGE }));
  return { regionIndex: 0, openFlags: 0, flags: 0, nrRanges: nRanges, ranges };
}

/** A create command of BAR 0 as the earlier inputs wrote it ({nRanges, valid}). */
export function createCmd(dev: number, nRanges: number, valid = true): LcCmd {
  return { op: 'create', dev, region: 0, ranges: requestFor(nRanges, valid).ranges };
}

/** A command as read from an input: earlier creates ({dev, nRanges, valid}) become their requests. */
export function normalizeCmd(c: LcCmd | { op: 'create'; dev: number; nRanges: number; valid: boolean }): LcCmd {
  if (c.op === 'create' && 'nRanges' in c) return createCmd(c.dev, c.nRanges, c.valid);
  return c as LcCmd;
}

/** A lifecycle counterexample's input: the commands and the run's setup, JSON with u64s kept exact. */
export function lcInput(cmds: readonly LcCmd[], setup?: LcSetup, platform?: Platform): unknown {
  return toInput({ cmds, ...(setup ? { setup } : {}), ...(platform ? { platform } : {}) });
}

/** Read an input written by lcInput (as JSON or as values), or an earlier `{cmds}` one (default setup). */
export function readLcInput(input: unknown): { cmds: LcCmd[]; setup?: LcSetup; platform?: Platform } {
  const r = fromInput<{ cmds?: Parameters<typeof normalizeCmd>[0][]; setup?: LcSetup; platform?: Platform }>(toInput(input ?? {}));
  return { cmds: (r.cmds ?? []).map(normalizeCmd), ...(r.setup ? { setup: r.setup } : {}), ...(r.platform ? { platform: r.platform } : {}) };
}

/** The device as the model sees it: the harness's BARs and page size, the device facts deviceConfig() gave
 *  it (none to an exporter whose create is not VFIO's), the device memory an nvgrace-like exporter declared
 *  at probe (its regions 2 and 4 export that memory, not BARs 2 and 4), and whether it offers iommufd the
 *  private interconnect. */
function devView(c: DeviceConfig, device: ExporterDevice): DevView {
  const nvgrace = (device as { vdev?: { view?: { nvgrace?: NvgraceMemory } } }).vdev?.view?.nvgrace;
  return { bars: c.bars, pageSize: c.pageSize, ...(nvgrace ? { nvgrace } : {}), ...(c.p2pdma === false ? { p2pdma: false } : {}), ...(c.busy?.length ? { busy: c.busy } : {}), ...(device.iommufdMap ? {} : { privateInterconnect: false }) };
}

/** An attachment's importer ops with its move_notify calls counted (Real.track). A class, not a spread
 *  of the importer's ops with a method added: V8 (Node 20) takes a slow path to add a field to a fresh
 *  spread copy, about a microsecond and a half per attach. */
class CountedOps implements DmaBufAttachOps {
  readonly allow_peer2peer: boolean;

  constructor(private readonly inner: DmaBufAttachOps, private readonly real: Real, private readonly a: DmaBufAttachment) {
    this.allow_peer2peer = inner.allow_peer2peer;
  }

  move_notify(x: DmaBufAttachment): void {
    this.real.countNotify(this.a);
    this.inner.move_notify?.(x);
  }
}

/** A step's move_notify counts when nothing was notified. */
const NO_NOTIFY: ReadonlyMap<number, number> = new Map();

interface RealAtt {
  readonly handle: ImporterAttachment | null;
  readonly attachment: DmaBufAttachment | null;
  /** The attachment as a heap object (what a UAF-OBJ report names), for the case's names. */
  readonly obj: KObj<DmaBufAttachment> | null;
  readonly importer: 'dma' | 'iommufd';
}

/** The implementation side of one run. */
export class Real implements CaseNames {
  readonly k: Kernel;
  readonly devices: ExporterDevice[];
  readonly bufs: (DmaBuf | null)[] = [];
  readonly atts: RealAtt[] = [];
  /** move_notify calls per attachment in the current step (null: none yet, the usual step). */
  private notified: Map<DmaBufAttachment, number> | null = null;
  /** The configuration the model is given: the devices as probed, the route. */
  readonly env: LcEnv;
  /** Each device's configuration as probed (its routes to the importers). */
  private readonly configs: DeviceConfig[];

  constructor(readonly cfg: LifecycleConfig, readonly setup: LcSetup = defaultSetup(cfg)) {
    // One lifecycle case runs (a search's, a shrink's, a race's, a replay's): the progress line counts it.
    caseRan();
    const platform = cfg.platform ?? setup.platform;
    this.k = new Kernel({ checkers: cfg.checkers ?? true, pageSize: setup.pageSize, faults: { allocFails: [], syncFails: false, iovaRefused: !setup.iova }, ...(platform ? { platform } : {}) });
    const configs = Array.from({ length: cfg.devices }, (_, i) => deviceConfig(i, setup, cfg.exporter.vfio === true));
    this.configs = configs;
    this.devices = configs.map((c) => cfg.exporter.probe(this.k, c));
    this.env = { devs: configs.map((c, i) => devView(c, this.devices[i]!)), dmaRoute: setup.dmaRoute, iova: setup.iova, ...(cfg.exporter.vfio ? {} : { opaque: true }) };
    this.k.log.names = this;
  }

  /** The case's names of this run's devices, dma-bufs and attachments, for violation messages (case-names.ts). */
  caseNames(): ReadonlyMap<string, string> {
    return caseNamesOf(this.configs, this.bufs, this.atts, this.creates);
  }

  /** The objects each create command allocated (a failed one's too: its unwind's messages name them). */
  private readonly creates: CreateObjects[] = [];

  /** The model's initial state for this system. */
  initialState(): LcState {
    return initialState(this.env);
  }

  /** Count move_notify per attachment by wrapping the importer op the core calls. */
  private track(a: DmaBufAttachment): void {
    (a as { importer_ops: DmaBufAttachOps }).importer_ops = new CountedOps(a.importer_ops, this, a);
  }

  /** One move_notify call of attachment `a` in the current step. */
  countNotify(a: DmaBufAttachment): void {
    this.notified ??= new Map();
    this.notified.set(a, (this.notified.get(a) ?? 0) + 1);
  }

  async exec(c: LcCmd): Promise<string> {
    switch (c.op) {
      case 'create': {
        const r = await this.devices[c.dev]!.create(createRequest(c));
        if (r.ok) this.bufs.push(r.value);
        return r.ok ? 'ok' : r.errno;
      }
      case 'attach': {
        const dmabuf = this.bufs[c.buf];
        if (!dmabuf || !this.userFd.has(dmabuf)) return '-EBADF';
        const before = new Set(dmabuf.attachments);
        const plugin = this.cfg.importers[c.importer];
        const dev = `${c.importer}-client`;
        const route = this.configs[this.devOf(dmabuf)]!.routeTo(c.importer === 'iommufd' ? null : dev);
        const r = await plugin.attach(this.k, dmabuf, this.devices[this.devOf(dmabuf)]!, { p2p: c.p2p, dev, route, profile: this.cfg.profile ?? 'v8' });
        if (!r.ok) return r.errno;
        const added = [...dmabuf.attachments].find((x) => !before.has(x));
        if (added) this.track(added.value);
        this.atts.push({ handle: r.value, attachment: added?.value ?? null, obj: added ?? null, importer: c.importer });
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
  /** What each command of the run returned, by step. */
  readonly results: string[] = [];
  readonly detached = new Set<number>();
  /** The dma-bufs (model index) whose size or PAL the create got wrong (lifecycle-checks.ts checkCreated). */
  readonly palWrong = new Set<number>();
  private readonly bufDev = new Map<DmaBuf, number>();

  devOf(b: DmaBuf): number {
    return this.bufDev.get(b) ?? 0;
  }

  /** The move_notify counts of the step that ends (null: none); the next step starts without any. */
  private takeNotified(): Map<DmaBufAttachment, number> | null {
    const n = this.notified;
    this.notified = null;
    return n;
  }

  /** Run one command as a top-level operation; returns its result and the move_notify counts. */
  async run(c: LcCmd, index: number): Promise<{ result: string; notify: ReadonlyMap<number, number> }> {
    this.notified = null;
    // Deferred work of the step before (an importer's late unmap) runs before this command.
    if (this.k.workPending) await this.k.flushWork();
    this.k.beginOp(() => opName(c, this.cfg.importers), index);
    const nBufs = this.bufs.length;
    // A create arms its fault point, and what it leaves allocated is judged if it fails (PAL-UNWIND).
    const live = c.op === 'create' ? { firstId: this.k.heap.nextObjectId, registrations: this.k.registrations.map((r) => r.count) } : null;
    const disarm = c.op === 'create' ? armCreateFault(this.k, c.fault) : null;
    const objs: KObj<unknown>[] = [];
    if (c.op === 'create') {
      this.k.heap.recording = objs;
      this.creates.push({ step: index, buf: null, objs });
    }
    let result: string;
    try {
      result = await this.exec(c);
      this.results[index] = result;
    } finally {
      disarm?.();
      if (c.op === 'create') this.k.heap.recording = null;
    }
    if (c.op === 'create' && this.bufs.length > nBufs) this.creates[this.creates.length - 1] = { step: index, buf: nBufs, objs };
    if (live && c.op === 'create' && result !== 'ok') checkCreateUnwind(this, c, live);
    if (c.op === 'create' && this.bufs.length > nBufs) {
      const b = this.bufs[nBufs]!;
      this.userFd.add(b);
      this.bufDev.set(b, c.dev);
    }
    this.k.endOp();
    const notified = this.takeNotified();
    if (!notified) return { result, notify: NO_NOTIFY };
    const notify = new Map<number, number>();
    this.atts.forEach((a, i) => {
      const n = a.attachment ? notified.get(a.attachment) : undefined;
      if (n) notify.set(i, n);
    });
    return { result, notify };
  }
}

/** What each create fault point fails, as a command name says it. */
const FAULT_NAMES: Readonly<Record<CreateFault, string>> = { priv: 'kzalloc(priv)', phys_vec: 'kcalloc(phys_vec)', export: 'dma_buf_export', fd: 'dma_buf_fd' };

/** The importer plugins of a run, by the kind of importer a command attaches with (LifecycleConfig.importers). */
export type ImporterNames = { readonly [K in 'dma' | 'iommufd']: { readonly name: string } };

/** The importer an attach names: the plugin's name when the run's importers are known (`iommufd:mainline`,
 *  `dma-importer:late-unmap`), with its kind when the name does not begin with it (`my-importer (dma)`). */
function importerName(kind: 'dma' | 'iommufd', importers: ImporterNames | undefined): string {
  const name = importers?.[kind].name;
  if (!name) return kind;
  return name.startsWith(kind) ? name : `${name} (${kind})`;
}

/** A command as a step and a message name it; an attach names the importer plugin that attached when `importers`
 *  (the run's) is given, else its kind (dma, iommufd). */
export function opName(c: LcCmd, importers?: ImporterNames): string {
  switch (c.op) {
    case 'create': return `create(dev${c.dev}, region ${c.region}, ${c.ranges.length ? c.ranges.map((r) => `${hex(r.offset)}+${hex(r.length)}`).join(' ') : 'no ranges'}${c.fault ? `, ${FAULT_NAMES[c.fault]} fails` : ''})`;
    case 'attach': return `attach(buf${c.buf}, ${importerName(c.importer, importers)}${c.importer === 'dma' && !c.p2p ? ', no p2p' : ''})`;
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
export function resultRule(c: LcCmd, s: LcState, profile?: Profile): RuleId {
  switch (c.op) {
    // A closed device's fd is gone (-EBADF) before any validation: a lifecycle answer (compareStep); the rest is the create path's.
    case 'create': return 'PAL-INPUT';
    // With mapping types the model's answer for a cleaned-up dma-buf is match_mapping's -ENODEV.
    case 'attach': return spec(profile ?? 'v8').mappingTypes && s.bufs[c.buf]?.cleaned ? 'MATCH-CLEANED' : 'REV-MAP';
    case 'map': {
      const a = s.atts[c.att];
      if (a?.importer === 'iommufd' && a.dead) return 'IOMMUFD-REVOKED';
      // A map of a revoked dma-buf must fail -ENODEV, whatever else the route or the range count would say.
      if (a && s.bufs[a.buf]?.revoked) return 'REV-MAP';
      if (a?.importer === 'iommufd') return 'IOMMUFD-ONE';
      return s.env.dmaRoute === 'BUS_ADDR' || s.env.dmaRoute === 'THRU_HOST_BRIDGE' ? 'REV-MAP' : 'ROUTE-NOMAP';
    }
    case 'event': return c.event === 'close' || c.event === 'unbind' ? 'REV-CLEANUP' : 'REV-WINDOW';
    default: return 'REV-WINDOW';
  }
}

/** REV-NOTIFY: attachment `i` got as many move_notify calls in `c` as the model says. */
function checkNotify(k: Real['k'], c: LcCmd, i: number, want: number, have: number, importers?: ImporterNames): void {
  if (want !== have) k.report('REV-NOTIFY', `att${i} got ${have} move_notify call(s) in ${opName(c, importers)}, the model says ${want}`, { att: i, port: have, model: want });
}

/** Compare one step of the implementation with the model; report what differs. */
export function compareStep(real: Real, c: LcCmd, before: LcState, after: LcState, exp: Expectation, got: { result: string; notify: ReadonlyMap<number, number> }): void {
  const k = real.k;
  // A map the IOMMU failed because the port linked onto a linked IOVA (-EEXIST, src/kernel/platform.ts refuse) breaks DMA-IOVA.
  const refused = c.op === 'map' && got.result === '-EEXIST' && k.dma.rejectedLinks.some((l) => l.flavour === 'refuse');
  const rule = c.op === 'create' && (got.result === '-EBADF' || exp.result === '-EBADF') ? 'REV-INIT' : refused ? 'DMA-IOVA' : resultRule(c, before, real.cfg.profile);
  if (got.result !== exp.result) k.report(rule, `${opName(c, real.cfg.importers)} returned ${got.result}, the model says ${exp.result}`, { port: got.result, model: exp.result });
  if (c.op === 'create' && got.result === 'ok' && exp.result === 'ok' && real.bufs.length === after.bufs.length) checkCreated(real, c, before, after);
  if (c.op === 'map' && got.result === 'ok') {
    checkHeldAtMap(real, c.att, after);
    checkSegments(real, c.att, after);
  }
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
  // Every attachment the model or the port notified: the model's first, then the port's others.
  for (const [i, want] of exp.notify) checkNotify(k, c, i, want, got.notify.get(i) ?? 0, real.cfg.importers);
  for (const [i, have] of got.notify) if (!exp.notify.has(i)) checkNotify(k, c, i, 0, have, real.cfg.importers);
  checkMappings(real, after);
}

export type { GenCmd };
export { resolve } from '../gen/lifecycle-resolve.ts';

export interface LifecycleRun {
  readonly steps: Step[];
  readonly violations: Real['k']['log']['violations'];
  readonly model: LcState;
  /** The run's kernel names of the case's objects (Real.caseNames()), for judging its violations. */
  readonly names: ReadonlyMap<string, string>;
  /** What each command returned (Real.results). */
  readonly results: readonly string[];
}

/** Run commands (already resolved) on a fresh system and model; stop after the first violating step. */
/** Does command `i` name only what exists at its step (a device of the case, a dma-buf and an attachment
 *  made before it)? A recorded case always does; an edited one may not: the field named, never a crash.
 *  @throws Error `/cmds/1/buf: buf5 is not made before this step (the case has buf0)` */
export function checkRefs(s: LcState, c: LcCmd, i: number): void {
  const some = (what: string, n: number) => (n === 0 ? 'none' : Array.from({ length: Math.min(n, 4) }, (_, k) => `${what}${k}`).join(', ') + (n > 4 ? `, ... ${what}${n - 1}` : ''));
  const bad = (field: string, what: string, x: number, n: number, made: string) => {
    if (!Number.isInteger(x) || x < 0 || x >= n) throw new Error(`/cmds/${i}/${field}: ${what}${x} is not ${made} (the case has ${some(what, n)})`);
  };
  if (c.op === 'create' || c.op === 'event') bad('dev', 'dev', c.dev, s.devs.length, 'a device of the case');
  else if (c.op === 'hot-reset') c.devs.forEach((d, k) => bad(`devs/${k}`, 'dev', d, s.devs.length, 'a device of the case'));
  else if (c.op === 'attach' || c.op === 'close-fd') bad('buf', 'buf', c.buf, s.bufs.length, 'made before this step');
  else bad('att', 'att', c.att, s.atts.length, 'made before this step');
}

export async function runLifecycle(cfg: LifecycleConfig, cmds: readonly LcCmd[], opts: { keepGoing?: boolean; setup?: LcSetup } = {}): Promise<LifecycleRun> {
  const real = new Real(cfg, opts.setup);
  let model = real.initialState();
  const steps: Step[] = [];
  for (const [i, c] of cmds.map(normalizeCmd).entries()) {
    checkRefs(model, c, i);
    const { next, expect } = step(model, c, cfg.profile);
    const got = await real.run(c, i);
    compareStep(real, c, model, next, expect, got);
    const broke = real.k.log.violations.find((v) => v.step === i);
    steps.push({ index: i, ...lanesOf(c, model), command: opName(c, cfg.importers), result: got.result, expected: expect.result, ...(broke ? { rule: broke.rule } : {}) });
    model = next;
    if (broke && !opts.keepGoing) break;
  }
  return { steps, violations: real.k.log.violations, model, names: real.caseNames(), results: real.results };
}
