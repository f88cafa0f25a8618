// The conversion unit: the kernel's PAL → scatterlist helpers, compiled from
// C, behind the ConversionImpl interface the convert suite drives. Each
// kernel service the C calls is answered by the MappingKernel of the case
// (heap, DMA API, p2pdma), so the same checkers judge C and port; every
// violation a service call raises names the C file:line of that call.
import { errnoOf, type Errno } from '../../models/errno.ts';
import type { PhysVec } from '../../models/pal.ts';
import { MAP_TYPES, type P2PProvider } from '../../models/pci/types.ts';
import type { SegmentLimit } from '../../models/sgt.ts';
import type { U64 } from '../../models/u64.ts';
import type { Attachment, DmaBufDma, MapResult, MappingKernel } from '../impl/dma-buf-mapping.ts';
import { newIovaState, type DmaDir, type DmaIovaState } from '../kernel/dma.ts';
import type { KObj } from '../kernel/objects.ts';
import { newSgTable, sg_alloc_table, sg_free_table, type SgTable } from '../kernel/scatterlist.ts';
import type { ConversionImpl } from '../rules/conversion.ts';
import type { RuleId } from '../rules/registry.ts';
import { crashedC, crashedIn, enteredC, returnedC, servingAt, trackCSites } from './sites.ts';
import { OP, OP_NAME, REQ, siteOf, type CCall, type CrashReport, type CUnitProcess } from './bridge.ts';

/** The rule a crash of the C is reported under when it is no memory-safety error.
 *  RULES.md names it PLUGIN-EXIT; until the registry has that id, the nearest is PLUGIN-THROW. */
export const C_CRASH_RULE: RuleId = 'PLUGIN-THROW';

const DIRS: readonly DmaDir[] = ['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE'];
const DIR_OF: Record<DmaDir, bigint> = { DMA_BIDIRECTIONAL: 0n, DMA_TO_DEVICE: 1n, DMA_FROM_DEVICE: 2n };

/** A kernel WARN_ON() condition of the conversion helpers → the rule it stands for. */
const WARN_RULES: Readonly<Record<string, { rule: RuleId; what: string }>> = {
  sgl: { rule: 'LEN-NENTS', what: 'the table has entries left unused' },
  'mapped_len != size': { rule: 'LEN-SUM', what: 'the linked length is not the dma-buf size' },
};

/** The simulated-heap kind of an allocation, from its size expression: the last
 *  identifier (`sizeof(*dma)` → dma, `*dma->state` → state), as the ports name them. */
export function allocKind(expr: string): string {
  const ids = expr.replace(/\bsizeof\b/g, '').match(/[A-Za-z_]\w*/g);
  return ids?.[ids.length - 1] ?? 'kmalloc';
}

/** An errno returned by the C (negative int) by name; one models/errno.ts lacks is -EIO with a note. */
export function errnoName(ret: bigint): Errno | null {
  return errnoOf(Number(BigInt.asIntN(64, ret)));
}

/** The objects of one case: C pointers → simulated-kernel objects. */
export interface CaseState {
  readonly objs: Map<bigint, KObj<unknown>>;
  readonly tables: Map<bigint, SgTable>;
  readonly states: Map<bigint, DmaIovaState>;
}

/** Which C conversion: its entry points and the design its segment limit follows. */
export interface ConversionVariant {
  readonly name: string;
  /** The bundled port of the same code: its documented findings are this unit's. */
  readonly basedOn: string;
  readonly limit: SegmentLimit;
}

/** A C conversion unit as a ConversionImpl, plus where its C came from. */
export interface KernelCConversion extends ConversionImpl {
  readonly basedOn: string;
  /** `path:line` of each kernel item compiled, with its origin (tree or patch hunk). */
  readonly sources: readonly string[];
  /** Stop the unit's process. */
  close(): void;
}

/** Reports violations raised during `fn` with the C site of the call. */
export function atSite(k: MappingKernel, call: CCall, fn: () => readonly [bigint, bigint] | undefined): readonly [bigint, bigint] | undefined {
  const before = k.log.violations.length;
  const at = siteOf(call);
  const t = trackCSites(k.log);
  const r = servingAt(t, at, fn, OP_NAME[call.op]);
  for (let i = before; i < k.log.violations.length; i++) {
    const v = k.log.violations[i]!;
    if (v.evidence?.['cSite'] !== undefined) continue;
    k.log.violations[i] = { ...v, message: `${v.message} [${at}]`, evidence: { ...v.evidence, cSite: at, cTrail: [...t.trail] } };
  }
  return r;
}

export const TRUE = [1n, 0n] as const;
export const r1 = (v: bigint | number): readonly [bigint, bigint] => [BigInt.asUintN(64, BigInt(v)), 0n];

export function serve(k: MappingKernel, s: CaseState, provider: P2PProvider, attach: Attachment, proc: CUnitProcess, call: CCall): readonly [bigint, bigint] | undefined {
  const a = call.args;
  const site = siteOf(call);
  const state = (p: bigint) => s.states.get(p) ?? (s.states.set(p, newIovaState()), s.states.get(p)!);
  switch (call.op) {
    case OP.RESV_ASSERT: k.assertResvHeld(attach.dmabuf.resv, site); return undefined;
    case OP.ALLOC: {
      const obj = k.heap.alloc<unknown>(allocKind(proc.str(Number(a[2]))), site, { cPtr: a[0], size: a[1] });
      if (!obj) return r1(0);
      s.objs.set(a[0]!, obj);
      return TRUE;
    }
    case OP.FREE: {
      const obj = s.objs.get(a[0]!);
      if (obj) k.heap.free(obj, site);
      else k.log.report('UAF-OBJ', `kfree of 0x${a[0]!.toString(16)}, which was never allocated, in ${site}`, { kind: 'invalid-free', useSite: site });
      return undefined;
    }
    case OP.MAP_TYPE: return r1(MAP_TYPES.indexOf(k.p2pdmaMapType(provider, attach.dev)));
    case OP.BUS_ADDR_MAP: return r1(k.busAddrMap(provider, a[1]!));
    case OP.SG_ALLOC: {
      const t = newSgTable();
      s.tables.set(a[0]!, t);
      return r1(sg_alloc_table(k.heap, t, Number(a[1]), site));
    }
    case OP.SG_FREE: {
      const t = s.tables.get(a[0]!) ?? newSgTable();
      t.nents = Number(a[1]);
      t.orig_nents = Number(a[2]);
      sg_free_table(k.heap, t, site);
      return undefined;
    }
    case OP.IOVA_TRY_ALLOC: {
      const st = state(a[1]!);
      k.dma.dma_iova_try_alloc(st, a[2]!, a[3]!);
      return [st.addr, st.__size];
    }
    case OP.IOVA_LINK: return r1(k.dma.dma_iova_link(state(a[0]!), a[1]!, a[2]!, a[3]!, DIRS[Number(a[4])]!));
    case OP.IOVA_SYNC: return r1(k.dma.dma_iova_sync(state(a[0]!), a[1]!, a[2]!));
    case OP.IOVA_DESTROY: k.dma.dma_iova_destroy(state(a[0]!), a[1]!, DIRS[Number(a[2])]!); return undefined;
    case OP.IOVA_FREE: k.dma.dma_iova_free(state(a[0]!)); return undefined;
    case OP.MAP_PHYS: return r1(k.dma.dma_map_phys(a[0]!, a[1]!, DIRS[Number(a[2])]!));
    case OP.MAPPING_ERROR: return r1(k.dma.dma_mapping_error(a[0]!));
    case OP.UNMAP_PHYS: k.dma.dma_unmap_phys(a[0]!, a[1]!, DIRS[Number(a[2])]!); return undefined;
    case OP.WARN: {
      const cond = proc.str(Number(a[0]));
      const w = WARN_RULES[cond];
      k.log.report(w?.rule ?? C_CRASH_RULE, `WARN_ON(${cond}) in ${site}${w ? `: ${w.what}` : ''}`, { kind: 'warn', cond });
      return undefined;
    }
    case OP.NULL_SG: return undefined;
    default:
      k.log.report(C_CRASH_RULE, `the unit made an unknown call ${call.op} at ${site}`, { kind: 'protocol' });
      return undefined;
  }
}

/** A crash of the C as a violation: a write through the NULL past the table is
 *  LEN-NENTS (the port reports the same overrun), a memory-safety error UAF-OBJ,
 *  anything else the crash rule. The sanitizer's first frames are the evidence. */
export function reportCrash(k: MappingKernel, crash: CrashReport, request: string): void {
  const frames = crash.frames.map((f) => `${f.func} ${f.at}`);
  const last = crash.lastCall ? siteOf(crash.lastCall) : null;
  const base = { kind: `c-${crash.kind}`, summary: crash.summary, frames, ...(last ? { cSite: last } : {}), cTrail: [...trackCSites(k.log).trail] };
  // What the log is told after the crash is its consequence (crashedIn): kept in this report's evidence.afterCrash.
  crashedIn(k.log, (more) => {
    const evidence = { ...base, ...more };
    if (crash.lastCall?.op === OP.NULL_SG) {
      k.log.report('LEN-NENTS', `${request} writes past the end of the table (sg_next() returned NULL) [${last}]: the kernel oopses`, evidence);
    } else if (/use-after-free|double-free|invalid-free/.test(crash.kind)) {
      k.log.report('UAF-OBJ', `${request}: ${crash.summary}`, evidence);
    } else {
      k.log.report(C_CRASH_RULE, `${request}: the C unit crashed (${crash.summary})`, evidence);
    }
  });
}

/** The reply to a map request (c/units/sgt_reply.h) as the simulated kernel's table:
 *  an errno, or the struct dma_buf_dma the C returned with its sg_table read out. */
export function readTable(k: MappingKernel, s: CaseState, w: readonly bigint[], name: string, sgtOf: WeakMap<KObj<DmaBufDma>, bigint>): MapResult {
    if (w[0] === 0n) return { ok: false, errno: errnoName(w[1]!) ?? '-EIO' };
    const [, sgtPtr, dmaPtr, statePtr, dmaSize, , , nents, origNents, count] = w as bigint[];
    const t = s.tables.get(sgtPtr!) ?? newSgTable();
    t.nents = Number(nents);
    t.orig_nents = Number(origNents);
    t.sgl = Array.from({ length: Number(count) }, (_, i) => {
      const e = w.slice(10 + 4 * i, 14 + 4 * i);
      return { page: e[0] ? { cPage: e[0] } : null, offset: Number(e[1]! >> 32n), length: Number(e[1]! & 0xffffffffn), dma_address: e[2]!, dma_length: e[3]! };
    });
    const dma = s.objs.get(dmaPtr!) as KObj<DmaBufDma> | undefined;
    const stateObj = statePtr ? (s.objs.get(statePtr) as KObj<DmaIovaState> | undefined) : undefined;
    if (!dma || (statePtr && !stateObj)) {
      k.log.report(C_CRASH_RULE, `${name} returned a table outside any allocation it made`, { kind: 'protocol' });
      return { ok: false, errno: '-EFAULT' };
    }
    if (stateObj) stateObj.value = s.states.get(statePtr!) ?? newIovaState();
    dma.value = { sgt: t, state: stateObj ?? null, size: dmaSize! };
    sgtOf.set(dma, sgtPtr!);
    return { ok: true, dma };
}

/** The conversion unit of a running C process. */
export function cConversion(proc: CUnitProcess, variant: ConversionVariant, sources: readonly string[], entries: { map?: string; unmap?: string } = {}): KernelCConversion {
  const cases = new WeakMap<MappingKernel, CaseState>();
  const sgtOf = new WeakMap<KObj<DmaBufDma>, bigint>();
  // The entry points' names (`path:line (name)` of entries, else the variant's: c:v8:dma_buf_map → dma_buf_map/dma_buf_unmap).
  const nameIn = (at: string | undefined) => (at ? /\((\w+)\)$/.exec(at)?.[1] : undefined);
  const ENTRY = [nameIn(entries.map) ?? 'map', nameIn(entries.unmap) ?? 'unmap'] as const;
  const caseOf = (k: MappingKernel) => cases.get(k) ?? (cases.set(k, { objs: new Map(), tables: new Map(), states: new Map() }), cases.get(k)!);

  function map(k: MappingKernel, attach: Attachment, provider: P2PProvider, phys: readonly PhysVec[], size: U64, dir: DmaDir): MapResult {
    const s = caseOf(k);
    const args = [k.dma.pageSize, DIR_OF[dir], size, provider.busOffset, BigInt(phys.length), ...phys.flatMap((p) => [p.paddr, p.len])];
    const t = trackCSites(k.log);
    enteredC(t, ENTRY[0], entries.map);
    const out = proc.request(REQ.CONV_MAP, args, (call) => atSite(k, call, () => serve(k, s, provider, attach, proc, call)));
    if (!out.ok) {
      crashedC(t, ENTRY[0], out.crash.kind);
      reportCrash(k, out.crash, `${variant.name} map`);
      return { ok: false, errno: '-EFAULT' };
    }
    returnedC(t, ENTRY[0], out.words[0] === 0n ? `ERR_PTR(${errnoName(out.words[1]!) ?? String(BigInt.asIntN(64, out.words[1]!))})` : 'an sg_table');
    return readTable(k, s, out.words, variant.name, sgtOf);
  }

  function unmap(k: MappingKernel, attach: Attachment, dma: KObj<DmaBufDma>, dir: DmaDir): void {
    const s = caseOf(k);
    const sgt = sgtOf.get(dma);
    if (sgt === undefined) {
      k.log.report(C_CRASH_RULE, `${variant.name} unmap of a table this unit did not return`, { kind: 'protocol' });
      return;
    }
    // The C reads the table through its own memory; a kernel object freed before
    // this point is a use after free there (AddressSanitizer reports it).
    const provider: P2PProvider = { owner: 'exporter', bar: 0, busOffset: 0n };
    const t = trackCSites(k.log);
    enteredC(t, ENTRY[1], entries.unmap);
    const out = proc.request(REQ.CONV_UNMAP, [sgt, DIR_OF[dir]], (call) => atSite(k, call, () => serve(k, s, provider, attach, proc, call)));
    if (!out.ok) {
      crashedC(t, ENTRY[1], out.crash.kind);
      reportCrash(k, out.crash, `${variant.name} unmap`);
    } else returnedC(t, ENTRY[1], '');
  }

  return { name: variant.name, limit: variant.limit, basedOn: variant.basedOn, sources, map, unmap, close: () => proc.close() };
}
