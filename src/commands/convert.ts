// dmabuf-conform convert <case.json>: a VFIO dma-buf request on a device of a
// topology, through the create path and the PAL → SGT conversion of the
// chosen profile: prints the PAL, the segments and every rule violation.
// The case file is checked by schemas/case.schema.json, then its topology by
// models/pci/load.ts; each problem is one line naming the file and field.
// Exit 0 with no violation, 1 when it lists any, 2 on bad input.
import { readFileSync } from 'node:fs';
import { vfioDmaBufCreate, type DmaBufRequest, type VfioDeviceView } from '../../models/pal.ts';
import { parseTopology, parseU64 } from '../../models/pci/load.ts';
import { p2pdmaMapType, p2pdmaProvider } from '../../models/pci/p2pdma.ts';
import { TopologyIndex } from '../../models/pci/topology.ts';
import type { MapType } from '../../models/pci/types.ts';
import type { Profile } from '../../models/profiles.ts';
import { spec } from '../../models/profiles.ts';
import { hex } from '../../models/u64.ts';
import { NO_FAULTS } from '../kernel/faults.ts';
import { pointerOf } from '../report/crossref.ts';
import { validateFile, type CaseFile } from '../report/validate.ts';
import { runConversion } from '../rules/conversion.ts';
import { MAINLINE_PHYS_VEC_TO_SGT, V8_DMA_BUF_MAP } from '../rules/conversion-impls.ts';
import { checkPal, PAL_CREATE } from '../rules/pal.ts';
import { ViolationLog, jsonSafe } from '../rules/violation.ts';
import { EXIT, parseFlags, UsageError } from './usage.ts';

/** What `convert --help` prints. */
export const USAGE = 'usage: dmabuf-conform convert <case.json>';

/** A case file read into what the create path and the conversion take. */
export interface Case {
  readonly view: VfioDeviceView;
  readonly request: DmaBufRequest;
  readonly route: MapType;
  readonly profile: Profile;
}

/** What convert prints: the PAL (or the errno that refused it), the segments and the violations. */
export interface Converted {
  readonly implementation?: string;
  readonly pal: string | { readonly size: string; readonly phys: readonly { readonly paddr: string; readonly len: string }[] };
  readonly route: MapType;
  readonly result?: string;
  readonly segments: readonly { readonly addr: string; readonly len: string }[];
  readonly violations: readonly { readonly rule: string; readonly message: string; readonly evidence?: unknown }[];
}

/** A u64 field the schema let through (pattern checked); past 2^64 - 1 it is one line naming the field. */
function u64(file: string, at: string, v: string | number | undefined, fallback: bigint): bigint {
  if (v === undefined) return fallback;
  try {
    return parseU64(v, at);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
}

/**
 * A parsed case file checked and read: the schema, the topology, the device
 * ids, the page size. `file` names the file in errors:
 * `examples/cases/x.json: /exporter: no device 'gpu9' in the topology`.
 */
export function parseCase(json: unknown, file = 'case'): Case {
  const checked = validateFile('case', file, json);
  if (!checked.ok) throw new UsageError(checked.error);
  const c: CaseFile = checked.value;
  const topo = parseTopology(c.topology);
  if (!topo.ok) {
    const cut = topo.error.indexOf(': ');
    throw new UsageError(`${file}: ${pointerOf(topo.error.slice(0, cut), '/topology')}${topo.error.slice(cut)}`);
  }
  const t = topo.value;
  const idx = new TopologyIndex(t);
  const dev = idx.device(c.exporter);
  if (!dev) throw new UsageError(`${file}: /exporter: no device '${c.exporter}' in the topology`);
  if (!idx.device(c.client)) throw new UsageError(`${file}: /client: no device '${c.client}' in the topology`);
  const pageSize = u64(file, '/pageSize', c.pageSize, 4096n);
  if (pageSize !== 4096n && pageSize !== 65536n) throw new UsageError(`${file}: /pageSize: must be 4096 or 65536, got ${String(c.pageSize)}`);
  const r = c.request;
  const ranges = r.ranges.map((x, i) => ({ offset: u64(file, `/request/ranges/${i}/offset`, x.offset, 0n), length: u64(file, `/request/ranges/${i}/length`, x.length, 0n) }));
  const request: DmaBufRequest = { regionIndex: r.regionIndex ?? 0, flags: r.flags ?? 0, openFlags: 0, nrRanges: r.nrRanges ?? ranges.length, ranges };
  const view: VfioDeviceView = { hasGetDmabufPhys: true, bars: dev.bars, registrationAlive: true, pageSize, provider: (bar) => p2pdmaProvider(dev, bar) };
  const route = (c.route as MapType | undefined) ?? p2pdmaMapType(t, view.provider(request.regionIndex), c.client, idx);
  return { view, request, route, profile: c.profile ?? 'v8' };
}

/** The case through the create path (checkPal) and, when it succeeds, the conversion of its profile's design. */
export function convert(c: Case): Converted {
  const log = new ViolationLog();
  checkPal(PAL_CREATE, c.view, c.request, log);
  const pal = vfioDmaBufCreate(c.view, c.request);
  if (!pal.ok) return { pal: pal.errno, route: c.route, segments: [], violations: jsonSafe(log.violations) as Converted['violations'] };
  const impl = spec(c.profile).segmentLimit === V8_DMA_BUF_MAP.limit ? V8_DMA_BUF_MAP : MAINLINE_PHYS_VEC_TO_SGT;
  const conv = { phys: pal.value.phys, size: pal.value.size, route: c.route, busOffset: pal.value.provider.busOffset, pageSize: c.view.pageSize, faults: NO_FAULTS, dir: 'DMA_BIDIRECTIONAL' as const };
  const out = runConversion(impl, conv);
  return {
    implementation: impl.name,
    pal: { size: hex(pal.value.size), phys: pal.value.phys.map((p) => ({ paddr: hex(p.paddr), len: hex(p.len) })) },
    route: c.route,
    result: out.result,
    segments: out.segments.map((s) => ({ addr: hex(s.addr), len: hex(s.len) })),
    // The conversion's steps (map, free) are replay's; this output lists no steps to index.
    violations: jsonSafe([...log.violations, ...out.log.violations.map(({ step: _step, ...v }) => v)]) as Converted['violations'],
  };
}

/** `convert <case.json>`: print the result as JSON; exit 1 when it lists a violation. */
export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {}, USAGE);
  if (positionals.length !== 1) throw new UsageError(USAGE);
  const file = positionals[0]!;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a case file' : `not JSON (${(e as Error).message})`}`);
  }
  const out = convert(parseCase(json, file));
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return out.violations.length > 0 ? EXIT.violation : EXIT.ok;
}
