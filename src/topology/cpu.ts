// The CPU the host-bridge decision asks about (cpu_supports_p2pdma() reads
// the boot CPU's vendor and family): `--cpu amd:0x19`, `intel:6`, `other`,
// or the text of /proc/cpuinfo (a file path).
import { readFileSync } from 'node:fs';
import type { Cpu } from '../../models/pci/topology.ts';

export type CpuParse = { ok: true; cpu: Cpu } | { ok: false; error: string };

const VENDORS: Record<string, Cpu['vendor']> = { amd: 'amd', authenticamd: 'amd', hygongenuine: 'other', intel: 'intel', genuineintel: 'intel', other: 'other' };

/** "vendor_id : AuthenticAMD" and "cpu family : 25" of the first processor. */
export function cpuFromCpuinfo(text: string): CpuParse {
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(text)?.[1];
  const family = /^cpu family\s*:\s*(\d+)/m.exec(text)?.[1];
  if (!vendor || !family) return { ok: false, error: `/proc/cpuinfo text without ${!vendor ? "'vendor_id'" : "'cpu family'"}` };
  return { ok: true, cpu: { vendor: VENDORS[vendor.toLowerCase()] ?? 'other', family: Number(family) } };
}

/** `--cpu` value: VENDOR[:FAMILY] (family decimal or 0x hex), or a cpuinfo file. */
export function parseCpuOption(v: string): CpuParse {
  const m = /^(amd|intel|other)(?::(0x[0-9a-f]+|\d+))?$/i.exec(v);
  if (m) {
    const vendor = VENDORS[m[1]!.toLowerCase()]!;
    if (vendor === 'amd' && !m[2]) return { ok: false, error: `--cpu ${v}: give the AMD family too (amd:0x19); Zen is 0x17 or newer` };
    return { ok: true, cpu: { vendor, family: m[2] ? Number(m[2]) : 0 } };
  }
  let text: string;
  try {
    text = readFileSync(v, 'utf8');
  } catch {
    return { ok: false, error: `--cpu ${v}: expected amd:FAMILY, intel[:FAMILY], other, or a /proc/cpuinfo file` };
  }
  return cpuFromCpuinfo(text);
}
