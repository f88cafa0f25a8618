// Reading lspci text as people post it: facts per BDF, merged from every
// section of the post. Handled: `lspci -t`/`-tv`/`-tvnn` trees (one or
// several root buses), `lspci`, `-v`, `-vv`, `-vvv` with or without `-nn`,
// `-s` subsets, the path-style BDFs of IOMMU-group listings
// (`0000:00:1c.3/08:00.0`), `> ` mail quoting, shell prompts, and the sysfs
// `p2pmem` directory of a device. What no line says stays undefined here;
// src/topology/lspci.ts turns the facts into a topology and its unknowns.

export interface AcsBits {
  readonly sv: boolean; readonly tb: boolean; readonly rr: boolean; readonly cr: boolean;
  readonly uf: boolean; readonly ec: boolean; readonly dt: boolean;
}

export interface BarFact {
  readonly index: number;
  readonly type: 'mem' | 'io';
  readonly start: bigint | null;
  readonly size: bigint | null;
  /** [disabled], <unassigned> or [virtual]: no CPU mapping. */
  readonly unmapped: boolean;
}

export interface DevFacts {
  /** "dddd:bb:dd.f", lower case. */
  readonly bdf: string;
  className?: string;
  pciClass?: string;
  name?: string;
  pciId?: string;
  expressType?: string;
  secondary?: number;
  subordinate?: number;
  /** The bus of this device's parent bridge is known to be a root bus. */
  onRootBus?: boolean;
  /** Some `Capabilities:` line of this device was seen (so a missing ACS capability is known). */
  capsListed?: boolean;
  capsDenied?: boolean;
  acsCap?: boolean;
  acsCtl?: AcsBits;
  bars: BarFact[];
  p2pmem?: boolean;
}

export interface LspciFacts {
  readonly devices: Map<string, DevFacts>;
  /** Root buses shown by a tree ("dddd:bb"): their device list is complete. */
  readonly treeRoots: Set<string>;
  /** Root buses that a tree, a path listing or Root Port / RCiEP types show. */
  readonly notes: string[];
  /** ACSCtl lines no device header precedes (a `grep ACSCtl`). */
  orphanAcs: number;
  /** A `lspci -t` without IDs or names was seen. */
  sawTree: boolean;
}

const ACS_NAMES: Record<string, keyof AcsBits> = { SrcValid: 'sv', TransBlk: 'tb', ReqRedir: 'rr', CmpltRedir: 'cr', UpstreamFwd: 'uf', EgressCtrl: 'ec', DirectTrans: 'dt' };

/** Class names lspci prints without -nn, for the few classes the commands use. */
const CLASS_CODES: Record<string, string> = {
  'Host bridge': '0600', 'ISA bridge': '0601', 'PCI bridge': '0604', 'Bridge': '0680', 'Non-Volatile memory controller': '0108',
  'Ethernet controller': '0200', 'Network controller': '0280', 'Infiniband controller': '0207', 'VGA compatible controller': '0300',
  '3D controller': '0302', 'Display controller': '0380', 'Processing accelerators': '1200', 'System peripheral': '0880',
};

/** Vendor names as pci.ids spells them, for the vendors the allow list or the common dumps name. */
const VENDOR_IDS: readonly [RegExp, string][] = [
  [/^Intel Corporation\b/, '8086'], [/^Advanced Micro Devices, Inc\. \[AMD\/ATI\]/, '1002'], [/^Advanced Micro Devices, Inc\. \[AMD\]/, '1022'],
  [/^Google, Inc\./, '1ae0'], [/^NVIDIA Corporation\b/, '10de'], [/^Red Hat, Inc\./, '1b36'], [/^Mellanox Technologies\b/, '15b3'],
  [/^Samsung Electronics Co Ltd\b/, '144d'], [/^Broadcom \/ LSI\b/, '1000'], [/^PLX Technology, Inc\./, '10b5'],
];

export function normBdf(domain: string | undefined, bus: string, dev: string, fn: string): string {
  return `${(domain ?? '0000').toLowerCase()}:${bus.toLowerCase()}:${dev.toLowerCase()}.${fn}`;
}

/** Strip mail quoting (`> `, `>> `) and a shell prompt (`host:~ # cmd`, `$ cmd`). */
function clean(line: string): string {
  return line.replace(/\r$/, '').replace(/^(\s?>)+ ?/, '');
}

function device(f: LspciFacts, bdf: string): DevFacts {
  let d = f.devices.get(bdf);
  if (!d) f.devices.set(bdf, (d = { bdf, bars: [] }));
  return d;
}

/** "Ethernet controller [0200]: Intel Corporation 82576 [8086:10c9] (rev 01) (prog-if 00 [Normal decode])" */
function header(d: DevFacts, rest: string): void {
  const m = /^([^:[]+?)(?: \[([0-9a-f]{4})\])?: (.*)$/i.exec(rest);
  if (!m) {
    d.name ??= rest.trim();
    return;
  }
  d.className = m[1]!.trim();
  d.pciClass = m[2]?.toLowerCase() ?? CLASS_CODES[d.className] ?? d.pciClass;
  let name = m[3]!.replace(/\s*\(prog-if [^)]*(\[[^\]]*\])?\)\s*$/, '').replace(/\s*\(rev [0-9a-f]+\)\s*$/i, '').trim();
  const ids = /\s*\[([0-9a-f]{4}):([0-9a-f]{4})\]$/i.exec(name);
  if (ids) {
    d.pciId = `${ids[1]}:${ids[2]}`.toLowerCase();
    name = name.slice(0, ids.index).trim();
  } else if (!d.pciId) {
    const bare = /\bDevice ([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(name);
    const vendor = VENDOR_IDS.find(([re]) => re.test(name))?.[1];
    const dev = /\bDevice ([0-9a-f]{4})$/i.exec(name)?.[1];
    if (bare) d.pciId = `${bare[1]}:${bare[2]}`.toLowerCase();
    else if (vendor) d.pciId = `${vendor}:${dev ? dev.toLowerCase() : '????'}`;
  }
  d.name = name;
}

function acsBits(text: string): AcsBits {
  const out: Record<string, boolean> = { sv: false, tb: false, rr: false, cr: false, uf: false, ec: false, dt: false };
  for (const m of text.matchAll(/([A-Za-z]+)([+-])/g)) {
    const k = ACS_NAMES[m[1]!];
    if (k) out[k] = m[2] === '+';
  }
  return out as unknown as AcsBits;
}

const SIZE_UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

function region(d: DevFacts, line: string): void {
  const m = /Region (\d): (Memory|I\/O ports) at (<unassigned>|[0-9a-f]+)(.*)$/i.exec(line);
  if (!m) return;
  const size = /\[size=(\d+)([KMGT]?)\]/.exec(m[4]!);
  const unassigned = m[3] === '<unassigned>';
  d.bars.push({
    index: Number(m[1]), type: m[2] === 'Memory' ? 'mem' : 'io',
    start: unassigned ? null : BigInt(`0x${m[3]}`),
    size: size ? BigInt(size[1]!) * SIZE_UNITS[size[2]!]! : null,
    unmapped: unassigned || /\[(disabled|virtual)\]/.test(m[4]!),
  });
}

/** Details of the current device: express type, bus window, ACS, regions. */
function detail(d: DevFacts, line: string): boolean {
  const t = line.trim();
  let m: RegExpExecArray | null;
  if ((m = /^(?:Capabilities: \[[0-9a-f]+\] )?Express (?:\(v\d\) )?(Root Port|Upstream Port|Downstream Port|Endpoint|Legacy Endpoint|Root Complex Integrated Endpoint|Root Complex Event Collector|PCI-Express to PCI\/PCI-X Bridge|PCI\/PCI-X to PCI-Express Bridge)/.exec(t))) {
    d.expressType = m[1];
    if (t.startsWith('Capabilities:')) d.capsListed = true;
    return true;
  }
  if (/^Capabilities: <access denied>/.test(t)) return (d.capsDenied = true);
  if (/^Capabilities: \[[0-9a-f]+( v\d+)?\] Access Control Services/.test(t)) {
    d.capsListed = true;
    return (d.acsCap = true);
  }
  if (/^Capabilities: \[/.test(t)) return (d.capsListed = true);
  if ((m = /^ACSCap:/.exec(t))) return (d.acsCap = true);
  if (/^ACSCtl:/.test(t)) {
    d.acsCap = true;
    d.acsCtl = acsBits(t.slice(7));
    return true;
  }
  if ((m = /^Bus: primary=([0-9a-f]{2}), secondary=([0-9a-f]{2}), subordinate=([0-9a-f]{2})/.exec(t))) {
    d.secondary = parseInt(m[2]!, 16);
    d.subordinate = parseInt(m[3]!, 16);
    return true;
  }
  if (/Region \d:/.test(t)) return region(d, t), true;
  return false;
}

const HEADER = /^\s*(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])((?:\/[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])*)\s+(.*)$/i;

/** One line of a `-t` tree: nodes, bus windows, root markers, branch columns. */
function treeLine(f: LspciFacts, line: string, branch: Map<number, string | null>): void {
  let cur: string | null = null; // "dddd:bb" of the bus the next node sits on
  let last: DevFacts | null = null;
  for (let i = 0; i < line.length; ) {
    const c = line[i]!;
    const rest = line.slice(i);
    let m: RegExpExecArray | null;
    if ((c === '+' || c === '\\') && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '|')) {
      cur = branch.get(i) ?? null;
      i++;
    } else if (c === '+' && line[i - 1] === '-') {
      branch.set(i, cur);
      i++;
    } else if ((m = /^\[([0-9a-f]{4}):([0-9a-f]{2})\]/i.exec(rest))) {
      cur = `${m[1]!.toLowerCase()}:${m[2]!.toLowerCase()}`;
      f.treeRoots.add(cur);
      i += m[0].length;
    } else if ((m = /^\[([0-9a-f]{2})(?:-([0-9a-f]{2}))?\]/i.exec(rest)) && last) {
      last.secondary = parseInt(m[1]!, 16);
      last.subordinate = parseInt(m[2] ?? m[1]!, 16);
      cur = `${last.bdf.slice(0, 4)}:${m[1]!.toLowerCase()}`;
      i += m[0].length;
    } else if ((m = /^([0-9a-f]{2})\.([0-7])/i.exec(rest)) && line[i - 1] === '-' && cur) {
      const [dom, bus] = cur.split(':') as [string, string];
      last = device(f, normBdf(dom, bus, m[1]!, m[2]!));
      if (f.treeRoots.has(cur)) last.onRootBus = true;
      i += m[0].length;
      const name = /^\s{1,2}(\S.*)$/.exec(line.slice(i));
      if (name) {
        const ids = /\[([0-9a-f]{4}):([0-9a-f]{4})\]\s*$/i.exec(name[1]!);
        if (ids) last.pciId ??= `${ids[1]}:${ids[2]}`.toLowerCase();
        last.name ??= name[1]!.replace(/\s*\[[0-9a-f]{4}:[0-9a-f]{4}\]\s*$/i, '').trim();
        const vendor = VENDOR_IDS.find(([re]) => re.test(name[1]!))?.[1];
        if (!last.pciId && vendor) last.pciId = `${vendor}:????`;
        return;
      }
    } else i++;
  }
}

export function isTreeLine(line: string): boolean {
  return /^[\s|]*[-+\\]/.test(line) && (/-\[[0-9a-f]{4}:[0-9a-f]{2}\]/i.test(line) || /[-+\\]-[0-9a-f]{2}\.[0-7]/i.test(line));
}

/** Brackets a line opens and does not close (`-[06-0b` of a tree, `[8086:7a3` of an ID). */
function unclosed(line: string): boolean {
  let depth = 0;
  for (const c of line) depth = Math.max(0, depth + (c === '[' ? 1 : c === ']' ? -1 : 0));
  return depth > 0;
}

/**
 * Where a dump shows it was cut, as `line N: why`, or null. What can be told from the text alone:
 * - a tree or device line with a bracket it does not close (`-[06-0b`, `[8086:7a3`);
 * - a device line with nothing after its BDF (no class or name);
 * - a last line without its newline that ends in a cut token: tree drawing only (`   |   `), a
 *   connector with nothing after it (`--+-`, `-[07-0b]--`), a bare or partial BDF (`03:0`);
 * - a `lspci -t` tree that ends with a branch still open: a `+-` announces another device below it
 *   at that column and no `\-` (the last one) came.
 * A dump cut exactly after a complete line of a listing (not a tree) cannot be told from a short dump.
 */
export function truncation(text: string): string | null {
  const lines = text.split('\n');
  const lastNo = text.endsWith('\n') ? -1 : lines.length; // 1-based number of a last line without its newline
  const open = new Map<number, number>(); // tree column -> line of the '+' that opened it
  let lastTree = 0;
  const openBranch = (): string | null => {
    if (open.size === 0) return null;
    const [col, at] = [...open.entries()].sort((a, b) => a[1] - b[1])[0]!;
    return `line ${lastTree}: the lspci -t tree ends with a branch still open (line ${at}, column ${col + 1}: '+-' announces another device and no '\\-' closes it): the dump is truncated`;
  };
  for (const [k, raw] of lines.entries()) {
    const n = k + 1;
    const line = clean(raw);
    if (line.trim() === '') continue;
    const isLast = n === lastNo;
    const tree = isTreeLine(line) || (lastTree > 0 && /^[\s|]*[|+\\]/.test(line) && /^[\s|+\\\-[\]0-9a-f.:]*$/i.test(line.trimEnd()));
    if (tree) {
      if (unclosed(line)) return `line ${n}: a tree line with an unclosed '[': the dump is truncated`;
      // The drawing only: a device's name (after its BDF) may hold any character.
      const drawing = line.replace(/([0-9a-f]{2}\.[0-7])\s.*$/i, '$1');
      for (let i = 0; i < drawing.length; i++) {
        if (drawing[i] === '+' && (drawing[i + 1] === '-' || i + 1 === drawing.length)) open.set(i, open.get(i) ?? n);
        else if (drawing[i] === '\\' && drawing[i + 1] === '-') open.delete(i);
      }
      lastTree = n;
      // A name after the last BDF may end in anything; a line of drawing alone must end in a node or '--'.
      if (isLast && drawing === line && /(?:^[\s|]*$|[+|]-?\s*$|[^-]-\s*$|\]\s*$)/.test(line)) return `line ${n}: the last line stops mid-tree ('${line.trim()}', no newline): the dump is truncated`;
      continue;
    }
    if (lastTree > 0) {
      const e = openBranch();
      if (e) return e;
      lastTree = 0;
    }
    const h = HEADER.exec(line);
    if (h) {
      if (h[6]!.trim() === '') return `line ${n}: the device line ${line.trim()} has no class or name after its BDF: the dump is truncated`;
      if (unclosed(h[6]!)) return `line ${n}: the device line of ${line.trim().split(/\s/)[0]} has an unclosed '[': the dump is truncated`;
      if (isLast && !h[6]!.includes(':')) return `line ${n}: the last line stops inside the device line of ${line.trim().split(/\s/)[0]} (no 'class: name', no newline): the dump is truncated`;
      continue;
    }
    if (isLast && /^\s*(?:[0-9a-f]{4}:)?[0-9a-f]{2}(?::[0-9a-f]{0,2}(?:\.[0-7]?)?)?\s*$/i.test(line)) return `line ${n}: the last line stops at '${line.trim()}' (a cut BDF, no newline): the dump is truncated`;
  }
  return lastTree > 0 ? openBranch() : null;
}

/** Every fact the text states, per BDF. */
export function readLspci(text: string): LspciFacts {
  const f: LspciFacts = { devices: new Map(), treeRoots: new Set(), notes: [], orphanAcs: 0, sawTree: false };
  const branch = new Map<number, string | null>();
  let cur: DevFacts | null = null;
  for (const raw of text.split('\n')) {
    const line = clean(raw);
    if (line.trim() === '') continue;
    const sys = /\/sys\/bus\/pci\/devices\/([0-9a-f]{4})\\?:([0-9a-f]{2})\\?:([0-9a-f]{2})\.([0-7])\/p2pmem/i.exec(line);
    if (sys) device(f, normBdf(sys[1], sys[2]!, sys[3]!, sys[4]!)).p2pmem = true;
    if (/^\S*[$#]\s/.test(line) || /^[\w.-]+:[~/][^#$]*[#$]/.test(line)) { cur = null; continue; }
    if (isTreeLine(line)) {
      f.sawTree = true;
      treeLine(f, line, branch);
      cur = null;
      continue;
    }
    const h = HEADER.exec(line);
    if (h) {
      const hops = [normBdf(h[1], h[2]!, h[3]!, h[4]!), ...(h[5] ? h[5].slice(1).split('/').map((x) => normBdf(h[1], x.slice(0, 2), x.slice(3, 5), x.slice(6))) : [])];
      // A path-style BDF: each hop is the bridge whose secondary bus the next sits on.
      for (let k = 0; k + 1 < hops.length; k++) device(f, hops[k]!).secondary ??= parseInt(hops[k + 1]!.slice(5, 7), 16);
      cur = device(f, hops[hops.length - 1]!);
      header(cur, h[6]!);
      continue;
    }
    if (/^\s/.test(raw.replace(/^(\s?>)+ ?/, '')) && cur) {
      detail(cur, line);
      continue;
    }
    if (/^\s*ACSCtl:/.test(line)) f.orphanAcs++;
    else if (/^\s*Express /.test(line) && cur) detail(cur, line);
    else cur = null;
  }
  return f;
}
