// The runner's end of a C unit: the sanitized executable runs as a child
// process and talks over two FIFOs (its fd 3 to us, fd 4 from us) in u64
// words (c/shim/bridge.c). Calls are synchronous, so a unit can sit behind
// the synchronous ConversionImpl interface: a request goes out, then every
// kernel service the C calls comes back as a message, is answered by the
// simulated kernel, and the request ends with DONE. A crash or a sanitizer
// abort ends the child, not the runner: it is returned as a CrashReport (the
// sanitizer's first frames, the C file:line) and the next request starts a
// fresh child.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { beat } from '../harness/heartbeat.ts';

/** Message ops, as c/shim/bridge.h. */
export const OP = {
  STR: 1, RESV_ASSERT: 2, ALLOC: 3, FREE: 4, MAP_TYPE: 5, BUS_ADDR_MAP: 6, SG_ALLOC: 7, SG_FREE: 8,
  IOVA_TRY_ALLOC: 9, IOVA_LINK: 10, IOVA_SYNC: 11, IOVA_DESTROY: 12, IOVA_FREE: 13, MAP_PHYS: 14,
  MAPPING_ERROR: 15, UNMAP_PHYS: 16, WARN: 17, NULL_SG: 18, DONE: 32,
  DOWN_WRITE: 19, UP_WRITE: 20, ASSERT_WRITE: 21, RESV_LOCK: 22, RESV_UNLOCK: 23, GET_FILE_ACTIVE: 24, FPUT: 25,
  EXPORT: 26, DMA_BUF_FD: 27, MOVE_NOTIFY: 28, REG_TRYGET: 29, REG_PUT: 30, MEM_ENABLED: 31, PROVIDER: 33,
  PCI_READ_CONFIG: 34,
} as const;
/** The kernel function each op serves (c/shim/*.c), for the trail of the C's calls. */
export const OP_NAME: Readonly<Record<number, string>> = {
  [OP.RESV_ASSERT]: 'dma_resv_assert_held', [OP.ALLOC]: 'alloc', [OP.FREE]: 'kfree', [OP.MAP_TYPE]: 'pci_p2pdma_map_type',
  [OP.BUS_ADDR_MAP]: 'pci_p2pdma_bus_addr_map', [OP.SG_ALLOC]: 'sg_alloc_table', [OP.SG_FREE]: 'sg_free_table',
  [OP.IOVA_TRY_ALLOC]: 'dma_iova_try_alloc', [OP.IOVA_LINK]: 'dma_iova_link', [OP.IOVA_SYNC]: 'dma_iova_sync',
  [OP.IOVA_DESTROY]: 'dma_iova_destroy', [OP.IOVA_FREE]: 'dma_iova_free', [OP.MAP_PHYS]: 'dma_map_phys',
  [OP.MAPPING_ERROR]: 'dma_mapping_error', [OP.UNMAP_PHYS]: 'dma_unmap_phys', [OP.WARN]: 'WARN', [OP.NULL_SG]: 'sg_next (NULL)',
  [OP.DOWN_WRITE]: 'down_write', [OP.UP_WRITE]: 'up_write', [OP.ASSERT_WRITE]: 'lockdep_assert_held_write',
  [OP.RESV_LOCK]: 'dma_resv_lock', [OP.RESV_UNLOCK]: 'dma_resv_unlock', [OP.GET_FILE_ACTIVE]: 'get_file_active', [OP.FPUT]: 'fput',
  [OP.EXPORT]: 'dma_buf_export', [OP.DMA_BUF_FD]: 'dma_buf_fd', [OP.MOVE_NOTIFY]: 'dma_buf_move_notify',
  [OP.REG_TRYGET]: 'vfio_device_try_get_registration', [OP.REG_PUT]: 'vfio_device_put_registration',
  [OP.MEM_ENABLED]: '__vfio_pci_memory_enabled', [OP.PROVIDER]: 'pcim_p2pdma_provider', [OP.PCI_READ_CONFIG]: 'pci_read_config_word',
};

export const REQ = {
  QUIT: 1, CONV_MAP: 2, CONV_UNMAP: 3,
  EXP_PROBE: 16, EXP_CREATE: 17, EXP_MOVE: 18, EXP_CLEANUP: 19, EXP_ATTACH: 20, EXP_MAP: 21, EXP_UNMAP: 22,
  EXP_RELEASE: 23, EXP_REVOKED: 24, EXP_IOMMUFD_MAP: 25, EXP_UNBIND: 26, EXP_FREE_DMABUF: 27, EXP_PHYS_VEC: 28,
  ROUTE_SETUP: 40, ROUTE_INIT: 41, ROUTE_PROVIDER: 42, ROUTE_MAP_TYPE: 43, ROUTE_CALC: 44, ROUTE_DIST_MANY: 45, REPLY: 0xff,
} as const;

/** Worker channels of a unit process (c/shim/bridge.c MAX_CHANS; 0 is the main thread). */
const MAX_CHANS = 64;

/** One kernel service call of the C: op, the C site, its u64 arguments. */
export interface CCall {
  readonly op: number;
  readonly file: string;
  readonly func: string;
  readonly line: number;
  readonly args: readonly bigint[];
}

/** `file:line (func)` of a call. */
export function siteOf(c: Pick<CCall, 'file' | 'line' | 'func'>): string {
  return `${c.file}:${c.line}${c.func ? ` (${c.func})` : ''}`;
}

/** A frame of a sanitizer report. */
export interface CFrame {
  readonly func: string;
  readonly at: string;
}

/** How the unit ended: the sanitizer's headline and first frames, and the last call it made. */
export interface CrashReport {
  /** e.g. 'heap-use-after-free', 'SEGV', 'undefined-behavior', 'exit 3'. */
  readonly kind: string;
  readonly summary: string;
  readonly frames: readonly CFrame[];
  readonly lastCall: CCall | null;
}

export type RequestOutcome = { readonly ok: true; readonly words: readonly bigint[] } | { readonly ok: false; readonly crash: CrashReport };

/** Answers a service call: the two reply words, or undefined for a call that returns nothing. */
export type ServiceHandler = (call: CCall) => readonly [bigint, bigint] | undefined;
type Reply = readonly [bigint, bigint] | undefined;
/** Answers a service call of a channel request; a promise (a lock, an fput running a release) is awaited while the C waits. */
export type AsyncServiceHandler = (call: CCall) => Reply | Promise<Reply>;

const SPIN_READS = 4000;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** Each code address of a sanitizer report (`module+0xoffset`) as its frames, innermost (inlined) first: a
 *  unit's binary never changes under its path (builds are content-addressed) nor does a system library while the
 *  tool runs, so one lookup serves every crash of a process. */
const SYMBOLS = new Map<string, readonly CFrame[]>();

/** The symbolizer the units' reports are read with: llvm-symbolizer (what AddressSanitizer runs), else binutils' addr2line. */
const SYMBOLIZER = ['/usr/bin/llvm-symbolizer', '/usr/bin/addr2line'].find((p) => existsSync(p));
/** Symbolizer processes started by this process (one per module with addresses not looked up before). */
export let symbolizerRuns = 0;

/** Look up `offsets` of `module` (one process for all), into SYMBOLS; unknown addresses stay unsymbolized. */
function lookUp(module: string, offsets: readonly string[]): void {
  if (!SYMBOLIZER || !existsSync(module)) return;
  let out: string;
  const llvm = SYMBOLIZER.endsWith('llvm-symbolizer');
  try {
    // addr2line -a prints each address before its frames; llvm-symbolizer ends each address's frames with a blank line.
    // --relativenames: a file named relative to the compile directory (the #line names of the kernel's C) as named.
    const args = llvm ? ['--obj', module, '--inlining', '--relativenames', ...offsets] : ['-a', '-f', '-i', '-e', module, ...offsets];
    symbolizerRuns++;
    out = execFileSync(SYMBOLIZER, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return;
  }
  const lines = out.split('\n');
  const blocks: string[][] = [];
  if (llvm) {
    let cur: string[] = [];
    for (const l of lines) {
      if (l === '') { if (cur.length) blocks.push(cur); cur = []; } else cur.push(l);
    }
    if (cur.length) blocks.push(cur);
  } else {
    for (const l of lines) {
      if (/^0x[0-9a-f]+$/.test(l)) blocks.push([]);
      else if (l !== '' && blocks.length) blocks[blocks.length - 1]!.push(l);
    }
  }
  offsets.forEach((off, i) => {
    const b = blocks[i] ?? [];
    const frames: CFrame[] = [];
    for (let j = 0; j + 1 < b.length; j += 2) {
      const func = b[j]!;
      // file:line (a column, when given, is dropped as AddressSanitizer prints these units' frames); ?? is unknown
      let at = b[j + 1]!.replace(/ \(discriminator \d+\)$/, '').replace(/^(.*:\d+):\d+$/, '$1');
      // addr2line joins the compile directory to a relative name: the kernel's files are named from the tree's top.
      if (!llvm) at = at.replace(/^\/.*?\/((?:drivers|include|lib|mm|kernel)\/)/, '$1');
      if (func === '??') continue;
      // a function without a line (a libc entry, _start): named, with its module and offset as the sanitizer prints it
      frames.push({ func, at: at.startsWith('??') ? `(${module}+${off})` : at });
    }
    // none: the address stays as printed, and is not looked up again
    SYMBOLS.set(`${module}+${off}`, frames);
  });
}

const UNSYMBOLIZED_FRAME = /^(\s*#\d+ 0x[0-9a-f]+) +\(([^()\s]+)\+(0x[0-9a-f]+)\)[ \t]*$/gm;
const UNSYMBOLIZED_SUMMARY = /^(SUMMARY: \w+: [\w-]+) \(([^()\s]+)\+(0x[0-9a-f]+)\)(?: in \S+)?[ \t]*$/m;

/**
 * A sanitizer report printed without symbols (the units run with symbolize=0: AddressSanitizer's own lookup
 * starts llvm-symbolizer for each report, about 0.3 s of every crash) as AddressSanitizer prints it with them:
 * `#0 0x... (binary+0x6e57)` becomes `#0 0x... in vfio_pci_dma_buf_release drivers/vfio/pci/vfio_pci_dmabuf.c:74`
 * (one line per inlined frame, innermost first), and the SUMMARY names the first frame's file:line and function.
 * Each address is looked up once per process (SYMBOLS); one a symbolizer cannot name stays as it was.
 */
export function symbolize(report: string): string {
  const want = new Map<string, Set<string>>();
  const need = (module: string, off: string) => {
    if (!SYMBOLS.has(`${module}+${off}`)) want.set(module, (want.get(module) ?? new Set()).add(off));
  };
  for (const m of report.matchAll(UNSYMBOLIZED_FRAME)) need(m[2]!, m[3]!);
  const sum = UNSYMBOLIZED_SUMMARY.exec(report);
  if (sum) need(sum[2]!, sum[3]!);
  for (const [module, offs] of want) lookUp(module, [...offs]);
  const out = report.replace(UNSYMBOLIZED_FRAME, (line, head: string, module: string, off: string) => {
    const frames = SYMBOLS.get(`${module}+${off}`);
    return frames?.length ? frames.map((f) => `${head} in ${f.func} ${f.at}`).join('\n') : line;
  });
  return out.replace(UNSYMBOLIZED_SUMMARY, (line, head: string, module: string, off: string) => {
    const f = SYMBOLS.get(`${module}+${off}`)?.[0];
    return f && !f.at.startsWith('(') ? `${head} ${f.at} in ${f.func}` : line;
  });
}

/** Parse an AddressSanitizer / UBSan report into a CrashReport. */
export function parseSanitizerReport(stderr: string, lastCall: CCall | null, exitNote: string): CrashReport {
  const asan = /ERROR: AddressSanitizer: ([\w-]+)/.exec(stderr);
  const ubsan = /([^\s]+:\d+:\d+): runtime error: (.*)/.exec(stderr);
  const frames: CFrame[] = [];
  for (const m of stderr.matchAll(/^\s*#\d+ 0x[0-9a-f]+ in (\S+) (\S+)$/gm)) {
    const at = m[2]!.replace(/:(\d+):\d+$/, ':$1').replace(/^.*?((?:drivers|include|lib|mm|kernel|c\/units|c\/shim)\/)/, '$1');
    // The first frames are the shim's (a service the C called) or libc's: the C's own frame is the first after them.
    if ((/^(__|kshim_|abort|raise|__libc|_start|main$)/.test(m[1]!) || at.startsWith('c/shim/')) && frames.length === 0 && !/^kshim_null_sg$/.test(m[1]!)) continue;
    frames.push({ func: m[1]!, at });
    if (frames.length === 3) break;
  }
  const summary = shimSiteToCaller(/SUMMARY: (.*)/.exec(stderr)?.[1] ?? ubsan?.[0] ?? stderr.split('\n').find((l) => l.trim()) ?? exitNote, frames[0]);
  const kind = asan ? asan[1]! : ubsan ? 'undefined-behavior' : exitNote;
  return { kind, summary: summary.trim(), frames, lastCall };
}

/** A summary whose site is inside the shim (`.../c/shim/services.c:113 in kshim_p2pdma_bus_addr_map`, or
 *  `.../c/shim/services.c:113:5: runtime error: ...`) names the C's frame that called it instead
 *  (`drivers/dma-buf/dma-buf.c:1420 in dma_buf_map, in its call of kshim_p2pdma_bus_addr_map`): the shim is ours, not the C under test. */
export function shimSiteToCaller(summary: string, caller: CFrame | undefined): string {
  if (!caller || caller.at.startsWith('c/shim/')) return summary;
  const asan = /(\S*c\/shim\/[\w.-]+:\d+(?::\d+)?) in (\S+)/.exec(summary);
  if (asan) return summary.replace(asan[0], `${caller.at} in ${caller.func}, in its call of ${asan[2]}`);
  const ub = /^(\S*c\/shim\/[\w.-]+:\d+(?::\d+)?):/.exec(summary);
  if (ub) return summary.replace(ub[1]!, `${caller.at} (${caller.func}, in the shim's ${ub[1]!.replace(/^.*?(c\/shim\/)/, '$1')})`);
  return summary;
}

/** A running C unit (one child process), restarted after a crash. */
export class CUnitProcess {
  private child: ChildProcess | null = null;
  private rfd = -1;
  private pos = 0;
  private wfd = -1;
  private dir = '';
  private readonly strs = new Map<number, string>();
  private buf = Buffer.alloc(1 << 16);
  private start = 0;
  private end = 0;
  private lastCall: CCall | null = null;
  /** Children started so far (1 + crashes survived). */
  starts = 0;
  /** Channels with a request in flight (a worker thread of the child each). */
  private readonly busy = new Set<number>();
  /** The report of the last crash: requests of the child that died with it end with it. */
  private lastCrash: CrashReport | null = null;
  /** Requests served by this child (channel requests). */
  served = 0;

  /** Told the pid of every unit process started / ended in this thread (a pool worker tells its
   *  parent, which kills them when it stops the worker: a worker's children outlive its thread). */
  static onSpawn: ((pid: number) => void) | undefined;
  static onExit: ((pid: number) => void) | undefined;

  /** The heartbeat label of this unit's requests (the pool's watchdog names it when the C hangs). */
  private readonly label: string;

  constructor(readonly binary: string) {
    this.label = `kernel C ${basename(binary)}`;
  }

  /** A string the unit sent (file names, size expressions, WARN conditions) by its id. */
  str(id: number): string {
    return this.strs.get(id) ?? '';
  }

  private spawnChild(): void {
    this.dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'dmabuf-kc-'));
    const c2p = join(this.dir, 'c2p');
    const p2c = join(this.dir, 'p2c');
    execFileSync('mkfifo', [p2c]);
    this.rfd = openSync(c2p, 'w+');
    const errFd = openSync(join(this.dir, 'stderr'), 'w');
    // Reports without symbols: symbolize() reads them, each address once per process (not once per crash).
    this.child = spawn('/bin/sh', ['-c', 'exec "$0" 3<>"$1" 4<"$2"', this.binary, c2p, p2c], {
      stdio: ['ignore', 'ignore', errFd],
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:symbolize=0:print_summary=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1:symbolize=0' },
    });
    closeSync(errFd);
    this.child.unref();
    const pid = this.child.pid;
    if (pid !== undefined && CUnitProcess.onSpawn) {
      CUnitProcess.onSpawn(pid);
      this.child.once('exit', () => CUnitProcess.onExit?.(pid));
    }
    this.wfd = openSync(p2c, 'w');
    this.strs.clear();
    this.starts++;
  }

  /** More bytes from the unit: poll its message file (a read past the end
   *  returns 0 and costs a microsecond), then sleep in short steps, looking
   *  every few milliseconds whether the unit is still alive. */
  private fill(): boolean {
    if (this.start > 0 && this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      if (this.start > 0) { this.buf.copy(this.buf, 0, this.start, this.end); this.end -= this.start; this.start = 0; }
      else { const b = Buffer.alloc(this.buf.length * 2); this.buf.copy(b); this.buf = b; }
    }
    for (let i = 0; ; i++) {
      const n = readSync(this.rfd, this.buf, this.end, this.buf.length - this.end, this.pos);
      if (n > 0) {
        this.end += n;
        this.pos += n;
        return true;
      }
      if (i < SPIN_READS) continue;
      Atomics.wait(PAUSE, 0, 0, i < SPIN_READS + 1000 ? 0.05 : 1);
      // A unit writing a sanitizer report (its stderr grows) is ending, not hung: that is progress.
      if (i % 64 === 0 && this.reporting()) beat();
      if (i % 64 === 0 && !this.alive()) {
        const last = readSync(this.rfd, this.buf, this.end, this.buf.length - this.end, this.pos);
        this.end += last;
        this.pos += last;
        return last > 0;
      }
    }
  }

  /** The unit has written to its stderr (a sanitizer report, a crash message). */
  private reporting(): boolean {
    try {
      return statSync(join(this.dir, 'stderr')).size > 0;
    } catch {
      return false;
    }
  }

  /** The unit's process exists and is not a zombie. */
  private alive(): boolean {
    const pid = this.child?.pid;
    if (!pid || this.child!.exitCode !== null || this.child!.signalCode !== null) return false;
    try {
      return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }

  private words(n: number): bigint[] | null {
    while (this.end - this.start < n * 8) if (!this.fill()) return null;
    const out: bigint[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.buf.readBigUInt64LE(this.start + i * 8);
    this.start += n * 8;
    return out;
  }

  private header(): { op: number; line: number; nargs: number; site: bigint } | null {
    while (this.end - this.start < 16) if (!this.fill()) return null;
    const lo = this.buf.readUInt32LE(this.start);
    const nargs = this.buf.readUInt32LE(this.start + 4);
    const site = this.buf.readBigUInt64LE(this.start + 8);
    this.start += 16;
    return { op: lo & 0xff, line: lo >>> 8, nargs, site };
  }

  private send(words: readonly bigint[]): boolean {
    const b = Buffer.alloc(words.length * 8);
    words.forEach((w, i) => b.writeBigUInt64LE(BigInt.asUintN(64, w), i * 8));
    try {
      writeSync(this.wfd, b);
      return true;
    } catch {
      return false;
    }
  }

  /** One request: `op` with its words; service calls go to `serve` until DONE. */
  request(op: number, args: readonly bigint[], serve: ServiceHandler): RequestOutcome {
    beat(this.label, `request ${op}`);
    if (!this.child) this.spawnChild();
    this.lastCall = null;
    ftruncateSync(this.rfd, 0);
    this.pos = this.start = this.end = 0;
    if (!this.send([BigInt(op), BigInt(args.length), ...args])) return this.crashed();
    for (;;) {
      const h = this.header();
      if (!h) return this.crashed();
      if (h.op === OP.STR) {
        const body = this.words(h.nargs);
        if (!body) return this.crashed();
        const len = Number(body[0]);
        const bytes = Buffer.alloc((h.nargs - 1) * 8);
        body.slice(1).forEach((w, i) => bytes.writeBigUInt64LE(w, i * 8));
        this.strs.set(Number(h.site), bytes.subarray(0, len).toString('utf8'));
        continue;
      }
      const args2 = this.words(h.nargs);
      if (!args2) return this.crashed();
      if (h.op === OP.DONE) return { ok: true, words: args2 };
      const call: CCall = { op: h.op, line: h.line, file: this.strs.get(Number(h.site & 0xffffffffn)) ?? '?', func: this.strs.get(Number(h.site >> 32n)) ?? '', args: args2 };
      this.lastCall = call;
      const reply = serve(call);
      if (reply && !this.send([reply[0], reply[1]])) return this.crashed();
    }
  }

  /** A message to a worker channel: the child has written all it had (its
   *  thread waits), so the output file starts anew, as the child does on
   *  every channel message. */
  private sendChan(chan: number, op: number, words: readonly bigint[]): boolean {
    if (this.start !== this.end) throw new Error(`kernel-c bridge: ${this.end - this.start} unread bytes before a message to channel ${chan}`);
    ftruncateSync(this.rfd, 0);
    this.pos = this.start = this.end = 0;
    return this.send([BigInt(op | (chan << 16)), BigInt(words.length), ...words]);
  }

  /** Read the messages of the running channel until its next waiting call or DONE. */
  private next(): { done: readonly bigint[] } | { call: CCall } | null {
    for (;;) {
      const h = this.header();
      if (!h) return null;
      if (h.op === OP.STR) {
        const body = this.words(h.nargs);
        if (!body) return null;
        const len = Number(body[0]);
        const bytes = Buffer.alloc((h.nargs - 1) * 8);
        body.slice(1).forEach((w, i) => bytes.writeBigUInt64LE(w, i * 8));
        this.strs.set(Number(h.site), bytes.subarray(0, len).toString('utf8'));
        continue;
      }
      const args = this.words(h.nargs);
      if (!args) return null;
      if (h.op === OP.DONE) return { done: args };
      const call: CCall = { op: h.op, line: h.line, file: this.strs.get(Number(h.site & 0xffffffffn)) ?? '?', func: this.strs.get(Number(h.site >> 32n)) ?? '', args };
      this.lastCall = call;
      return { call };
    }
  }

  private startChan(op: number, args: readonly bigint[]): { chan: number; child: ChildProcess } | RequestOutcome {
    beat(this.label, `request ${op}`);
    if (!this.child) this.spawnChild();
    let chan = 1;
    while (this.busy.has(chan)) chan++;
    if (chan >= MAX_CHANS) return { ok: false, crash: { kind: 'channels', summary: `${MAX_CHANS - 1} requests in flight at once`, frames: [], lastCall: null } };
    this.busy.add(chan);
    this.served++;
    if (!this.sendChan(chan, op, args)) return this.crashed();
    return { chan, child: this.child! };
  }

  /** One request on a worker channel whose services may be awaited (locks,
   *  an fput that runs a release): the C thread waits in its call while the
   *  runner awaits, and other requests (nested or racing) run meanwhile on
   *  other channels. A child that crashed meanwhile ends this request with
   *  that crash. */
  async requestAsync(op: number, args: readonly bigint[], serve: AsyncServiceHandler): Promise<RequestOutcome> {
    const s = this.startChan(op, args);
    if ('ok' in s) return s;
    for (;;) {
      if (this.child !== s.child) return { ok: false, crash: this.lastCrash ?? { kind: 'exit', summary: 'the unit was stopped', frames: [], lastCall: null } };
      const m = this.next();
      if (!m) return this.crashed();
      if ('done' in m) {
        this.busy.delete(s.chan);
        return { ok: true, words: m.done };
      }
      let reply = serve(m.call);
      if (reply instanceof Promise) reply = await reply;
      if (this.child !== s.child) return { ok: false, crash: this.lastCrash ?? { kind: 'exit', summary: 'the unit was stopped', frames: [], lastCall: null } };
      // A call that returns nothing does not wait: no reply.
      if (reply && !this.sendChan(s.chan, REQ.REPLY, reply)) return this.crashed();
    }
  }

  /** One request on a worker channel whose services all answer at once (a
   *  dma_buf_op the core calls synchronously: attach, map, unmap); it may run
   *  inside a service of another request (an unmap in a move_notify). */
  requestSync(op: number, args: readonly bigint[], serve: ServiceHandler): RequestOutcome {
    const s = this.startChan(op, args);
    if ('ok' in s) return s;
    for (;;) {
      const m = this.next();
      if (!m) return this.crashed();
      if ('done' in m) {
        this.busy.delete(s.chan);
        return { ok: true, words: m.done };
      }
      const reply = serve(m.call);
      if (this.child !== s.child) return { ok: false, crash: this.lastCrash! };
      if (reply && !this.sendChan(s.chan, REQ.REPLY, reply)) return this.crashed();
    }
  }

  /** Start the child now if there is none. */
  ensureChild(): void {
    if (!this.child) this.spawnChild();
  }

  /** The running child (null when there is none): objects the C made live in one child only. */
  currentChild(): unknown {
    return this.child;
  }

  /** No request in flight: the child can be replaced without losing anything. */
  get idle(): boolean {
    return this.busy.size === 0;
  }

  /** The child is gone: collect its report and forget it (the next request starts a new one). */
  private crashed(): RequestOutcome {
    this.closeFds();
    // The report is complete once the unit has exited; wait for that briefly.
    // (The wait and the sanitizer's report are progress, not a hang: they beat the pool's watchdog.)
    const until = Date.now() + 2000;
    while (Date.now() < until && this.alive()) {
      beat();
      Atomics.wait(PAUSE, 0, 0, 5);
    }
    let stderr = '';
    try { stderr = symbolize(readFileSync(join(this.dir, 'stderr'), 'utf8')); } catch { /* no report */ }
    rmSync(this.dir, { recursive: true, force: true });
    this.child = null;
    this.busy.clear();
    this.lastCrash = parseSanitizerReport(stderr, this.lastCall, 'the unit exited');
    return { ok: false, crash: this.lastCrash };
  }

  private closeFds(): void {
    for (const fd of [this.rfd, this.wfd]) if (fd >= 0) try { closeSync(fd); } catch { /* already closed */ }
    this.rfd = this.wfd = -1;
  }

  /** Stop the child (QUIT, then close the FIFOs). */
  close(): void {
    if (!this.child) return;
    this.send([BigInt(REQ.QUIT), 0n]);
    this.closeFds();
    this.child.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
    this.child = null;
    this.busy.clear();
    this.served = 0;
  }
}
