// What route, matrix and topology read: a topology JSON file (checked by the
// shipped schema) or lspci text (imported), with `--cpu` applied; and device
// names as people type them (the JSON id, 0000:03:00.0 or 03:00.0).
import { readFileSync } from 'node:fs';
import type { Cpu, Device, Topology } from '../../models/pci/topology.ts';
import { UsageError } from '../commands/usage.ts';
import { parseCpuOption } from './cpu.ts';
import { importLspci } from './lspci.ts';

export interface Loaded {
  readonly topology: Topology;
  readonly source: 'json' | 'lspci';
  readonly notes: readonly string[];
}

/** The --cpu value, or a UsageError naming what is wrong. */
export function cpuOption(v: string | undefined): Cpu | undefined {
  if (v === undefined) return undefined;
  const r = parseCpuOption(v);
  if (!r.ok) throw new UsageError(r.error);
  return r.cpu;
}

function withCpu(t: Topology, cpu: Cpu | undefined): Topology {
  if (!cpu) return t;
  const unknown = (t.unknown ?? []).filter((u) => u.fact !== 'cpu');
  const { unknown: _drop, ...rest } = t;
  return { ...rest, cpu, ...(unknown.length ? { unknown } : {}) };
}

/** A topology file or an lspci dump, by its content. */
export async function loadInput(file: string, cpu?: Cpu): Promise<Loaded> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read '${file}'`);
  }
  if (text.trimStart().startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${file}: topology: not JSON (${(e as Error).message})`);
    }
    const { validateTopology } = await import('./schema.ts');
    const r = validateTopology(json);
    if (!r.ok) throw new UsageError(`${file}: ${r.error}`);
    return { topology: withCpu(r.value, cpu), source: 'json', notes: [] };
  }
  const r = importLspci(text, cpu);
  if (!r.ok) throw new UsageError(`${file}: ${r.error}`);
  return { topology: r.topology, source: 'lspci', notes: r.notes };
}

const BDF = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

function bdfNumber(id: string): number | null {
  const m = BDF.exec(id);
  return m ? (parseInt(m[1] ?? '0', 16) * 0x10000 + parseInt(m[2]!, 16) * 0x100 + parseInt(m[3]!, 16) * 8 + Number(m[4])) : null;
}

/** A device by JSON id or BDF; unknown names list the nearest that exist. */
export function resolveDevice(t: Topology, name: string): Device {
  const exact = t.devices.find((d) => d.id === name);
  if (exact) return exact;
  const n = bdfNumber(name);
  if (n !== null) {
    const hit = t.devices.find((d) => bdfNumber(d.id) === n);
    if (hit) return hit;
  }
  const near = n === null
    ? t.devices.map((d) => d.id).filter((id) => id.toLowerCase().includes(name.toLowerCase().slice(0, 3))).slice(0, 3)
    : t.devices.filter((d) => bdfNumber(d.id) !== null).sort((a, b) => Math.abs(bdfNumber(a.id)! - n) - Math.abs(bdfNumber(b.id)! - n)).slice(0, 3).map((d) => shortId(d.id));
  throw new UsageError(`no device '${name}' in the topology${near.length ? `; nearest: ${near.join(', ')}` : ''}`);
}

/** 0000:03:00.0 → 03:00.0; other ids as they are. */
export function shortId(id: string): string {
  return /^0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(id) ? id.slice(5) : id;
}
