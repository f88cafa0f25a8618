// The harness side of the plugin API: every hook of an exporter or importer
// plugin (bundled or the user's) runs guarded. A hook that throws is a
// PLUGIN-THROW finding, an async hook that does not settle within the step
// time-out is a PLUGIN-TIMEOUT finding; either way the step gets an errno
// and the run goes on. Proxies forward everything else, so code that reads a
// device's own fields still works.
import type { Result } from '../../models/errno.ts';
import { beat } from './heartbeat.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { thrownReport } from '../kernel/callsite.ts';
import type { MatchDmaBufOps } from '../impl/dma-buf-match.ts';
import type { ExporterDevice, ExporterPlugin, ImporterAttachment, ImporterPlugin } from './plugin.ts';

/** The step time-out of an async hook. */
export const STEP_TIMEOUT_MS = 1000;
/** Once a plugin has hung, its later hooks get this much (a hung plugin must not stall the search and the shrinking). */
const AFTER_HANG_MS = 20;
const EIO = '-EIO';
const FAILED: Result<never> = { ok: false, errno: EIO };
/** An async hook in flight: when it must have settled, and how to end it if it has not.
 *  A class, not closures: under tsx (esbuild keepNames) a named closure costs a defineProperty per hook. */
class InFlight {
  readonly deadline: number;
  readonly ms: number;
  readonly hungBefore: boolean;

  constructor(readonly guard: Guard, readonly k: Kernel, readonly hook: string, readonly fallback: unknown, readonly resolve: (v: unknown) => void) {
    this.hungBefore = guard.hung;
    this.ms = this.hungBefore ? AFTER_HANG_MS : guard.timeoutMs;
    this.deadline = performance.now() + this.ms;
  }

  /** PLUGIN-TIMEOUT: the hook did not settle in time; the step gets the fallback, and the plugin's later hooks the short time-out. */
  expire(): void {
    const { guard, hook, ms } = this;
    guard.hung = true;
    this.k.report('PLUGIN-TIMEOUT', `${guard.plugin}: ${hook} did not return within ${ms} ms${this.hungBefore ? ' (it hung before: later hooks get the short time-out)' : ''}`, { plugin: guard.plugin, hook, ms });
    this.resolve(this.fallback);
  }
}

class Guard {
  hung = false;
  /** The async hooks in flight. One timer watches them all: a hook that settles in time
   *  (nearly all of them, within microtasks) costs no timer of its own. */
  private readonly inFlight = new Set<InFlight>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires (performance.now()). */
  private timerAt = Infinity;
  /** An unref of the timer is queued for when no hook is in flight. */
  private resting = false;
  constructor(readonly plugin: string, readonly timeoutMs: number) {}

  sync<T>(k: Kernel, hook: string, fallback: T, call: () => T): T {
    beat(this.plugin, hook);
    try {
      return call();
    } catch (e) {
      return this.threw(k, hook, 'threw', e, fallback);
    }
  }

  /** An async hook: its result, or `fallback` when it throws, rejects (PLUGIN-THROW) or does not settle within the time-out (PLUGIN-TIMEOUT). */
  async<T>(k: Kernel, hook: string, fallback: T, call: () => Promise<T>): Promise<T> {
    beat(this.plugin, hook);
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (e) {
      return Promise.resolve(this.threw(k, hook, 'threw', e, fallback));
    }
    return new Promise<T>((resolve) => {
      const entry = new InFlight(this, k, hook, fallback, resolve as (v: unknown) => void);
      this.watch(entry);
      Promise.resolve(pending).then(
        (r) => this.settled(entry) && resolve(r),
        (e: unknown) => this.settled(entry) && resolve(this.threw(k, hook, 'rejected', e, fallback)),
      );
    });
  }

  /** PLUGIN-THROW for a hook that threw or rejected; the step gets `fallback`. */
  threw<T>(k: Kernel, hook: string, how: string, e: unknown, fallback: T): T {
    // Where in the plugin it threw: the first frame of the thrown error's stack in a plugin's file (source-mapped),
    // in the message and evidence.pluginSite; evidence.stack keeps the frames for replay and report.json.
    const t = thrownReport(`${this.plugin}: ${hook} ${how}`, e);
    k.report('PLUGIN-THROW', t.message, { plugin: this.plugin, hook, ...t.evidence });
    return fallback;
  }

  /** A hook settled: false when it had already timed out (its answer comes too late). */
  private settled(entry: InFlight): boolean {
    if (!this.inFlight.delete(entry)) return false;
    if (this.inFlight.size === 0 && !this.resting) {
      // Unref the timer once the current burst of hooks is over, not after every hook (each ref/unref of the only timer is a call into libuv).
      this.resting = true;
      setImmediate(() => {
        this.resting = false;
        if (this.inFlight.size === 0) this.timer?.unref();
      });
    }
    return true;
  }

  /** Add a hook to the watched set; the timer keeps the process alive only while a hook is in flight. */
  private watch(entry: InFlight): void {
    this.inFlight.add(entry);
    if (entry.deadline < this.timerAt) this.arm(entry.deadline);
    else if (this.inFlight.size === 1) this.timer?.ref();
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - performance.now()));
  }

  /** End every hook past its deadline; re-arm for the next one, or rest (unref'd) when none is in flight. */
  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const e of [...this.inFlight]) {
      if (e.deadline <= now) {
        this.inFlight.delete(e);
        e.expire();
      } else next = Math.min(next, e.deadline);
    }
    if (next < Infinity) this.arm(next);
  }
}

/** A guarded device's own device and the kernel it was probed on, under a key only the guard knows.
 *  On the device, not in a WeakMap: every WeakMap entry is an ephemeron the garbage collector walks,
 *  and each run probes new devices (a WeakMap made a run's setup 8 times dearer). */
const PROBED = Symbol('probed');
type Probed = { readonly raw: ExporterDevice; readonly k: Kernel };
const probedOf = (d: ExporterDevice | undefined): Probed | undefined => (d as { [PROBED]?: Probed } | undefined)?.[PROBED];

/** A proxy of `target` whose listed methods are replaced; everything else is the target's own. */
function override<T extends object>(target: T, methods: Partial<T> & { readonly [PROBED]?: Probed }): T {
  return new Proxy(target, { get(t, p) { return p in methods ? methods[p as keyof T] : Reflect.get(t, p, t); } });
}

// Hooks here are methods, not arrow properties: under tsx (esbuild keepNames) each
// arrow property costs a defineProperty per probed device, a tenth of a lifecycle run.
function guardDevice(g: Guard, k: Kernel, d: ExporterDevice): ExporterDevice {
  const iommufdMap = d.iommufdMap?.bind(d);
  const matchOps = d.matchOps?.bind(d);
  return override(d, {
    [PROBED]: { raw: d, k },
    create(req) { return g.async(k, 'create', FAILED, () => d.create(req)); },
    event(e) { return g.async(k, `event(${e})`, EIO, () => d.event(e)); },
    isRevoked(b) { return g.sync(k, 'isRevoked', true, () => d.isRevoked(b)); },
    ...(iommufdMap ? { iommufdMap(a) { return g.sync(k, 'iommufdMap', FAILED, () => iommufdMap(a)); } } : {}),
    ...(matchOps ? { matchOps(core, buf) { return g.sync(k, 'matchOps', DEAD_MATCH_OPS, () => matchOps(core, buf)); } } : {}),
  });
}

/** What a matchOps hook that threw leaves: a dma-buf nobody can attach to. */
const DEAD_MATCH_OPS: MatchDmaBufOps = { attach: () => '-EIO', match_mapping: () => '-EIO' };

/** A probe threw (Guard.sync's fallback). */
const PROBE_THREW = Symbol('probe threw');

/** What a probe that threw leaves: a device whose every hook fails. */
function deadDevice(name: string): ExporterDevice {
  return { name, async create() { return FAILED; }, async event() { return EIO; }, isRevoked() { return true; } };
}

/** An exporter plugin whose every hook is guarded (timeoutMs: the step time-out). */
export function guardExporter(p: ExporterPlugin, timeoutMs = STEP_TIMEOUT_MS): ExporterPlugin {
  const g = new Guard(p.name, timeoutMs);
  const hotReset = p.hotReset?.bind(p);
  return {
    ...p,
    probe(k, cfg) {
      // The dead device only when the probe threw: not built for every probe.
      const raw = g.sync<ExporterDevice | typeof PROBE_THREW>(k, 'probe', PROBE_THREW, () => p.probe(k, cfg));
      return guardDevice(g, k, raw === PROBE_THREW ? deadDevice(cfg.name) : raw);
    },
    ...(hotReset ? {
      hotReset: async (devices: readonly ExporterDevice[]) => {
        const first = probedOf(devices[0]);
        const raws = devices.map((d) => probedOf(d)?.raw ?? d);
        return first ? g.async(first.k, 'hotReset', EIO, () => hotReset(raws)) : hotReset(raws);
      },
    } : {}),
  };
}

function guardAttachment(g: Guard, k: Kernel, a: ImporterAttachment): ImporterAttachment {
  return override(a, {
    map() { return g.async(k, 'map', EIO, () => a.map()); },
    unmap() { return g.async(k, 'unmap', EIO, () => a.unmap()); },
    detach() { return g.async(k, 'detach', undefined, () => a.detach()); },
    access() { return g.sync(k, 'access', EIO, () => a.access()); },
    mapped() { return g.sync(k, 'mapped', false, () => a.mapped()); },
  });
}

/** An importer plugin whose every hook is guarded. */
export function guardImporter(p: ImporterPlugin, timeoutMs = STEP_TIMEOUT_MS): ImporterPlugin {
  const g = new Guard(p.name, timeoutMs);
  return {
    ...p,
    async attach(k, dmabuf, exporter, opts) {
      const r = await g.async(k, 'attach', FAILED, () => p.attach(k, dmabuf, exporter, opts));
      return r.ok ? { ok: true, value: guardAttachment(g, k, r.value) } : r;
    },
  };
}
