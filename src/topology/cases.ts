// Answers for each possibility of what a topology's source did not say.
// The unknown facts (models/pci/topology.ts UnknownFact) span the cases:
// unknown ACS controls all clear or all set as Linux sets them with an IOMMU
// (SV RR CR UF: under both variants a port decides on RR/CR only unless EC
// is set, so any-set gives what all-set gives), the CPU Zen-or-newer AMD or
// not, each unknown root device on the allow list (any, same host bridge
// only) or not. A question is answered in every case; the facts whose change
// changes the answer are the ones the output names.
import { TopologyIndex, type Acs, type Topology, type UnknownFact } from '../../models/pci/topology.ts';
import type { AllowList } from '../../models/pci/topology.ts';

const LINUX_ACS: Acs = { sv: true, rr: true, cr: true, uf: true, ec: false, tb: false, dt: false };

interface Alt { readonly label: string; readonly apply: (t: Topology) => Topology }
interface Fact { readonly name: string; readonly why: string; readonly alts: readonly Alt[] }

function facts(t: Topology): Fact[] {
  const unknown = t.unknown ?? [];
  const out: Fact[] = [];
  const acs = new Set(unknown.filter((u): u is Extract<UnknownFact, { fact: 'acs' }> => u.fact === 'acs').map((u) => u.device));
  if (acs.size > 0) {
    const set = (value: Acs | undefined) => (x: Topology): Topology => ({ ...x, devices: x.devices.map((d) => (acs.has(d.id) ? { ...d, ...(value ? { acs: value } : { acs: undefined }) } : d)) });
    out.push({ name: 'acs', why: `ACS control not shown for ${acs.size} device(s)`, alts: [
      { label: 'ACS redirect clear on the ports the dump does not show', apply: set(undefined) },
      { label: 'ACS RR/CR set on those ports (Linux sets SV RR CR UF when an IOMMU is on)', apply: set(LINUX_ACS) },
    ] });
  }
  const cpu = unknown.find((u) => u.fact === 'cpu');
  if (cpu) {
    out.push({ name: 'cpu', why: cpu.why, alts: [
      { label: 'CPU: AMD family 0x17 (Zen) or newer', apply: (x) => ({ ...x, cpu: { vendor: 'amd', family: 0x17 } }) },
      { label: 'CPU: any other', apply: (x) => ({ ...x, cpu: { vendor: 'other', family: 0 } }) },
    ] });
  }
  for (const u of unknown) {
    if (u.fact !== 'root-device') continue;
    const set = (a: AllowList) => (x: Topology): Topology => ({ ...x, hostBridges: x.hostBridges.map((h) => (h.id === u.hostBridge ? { ...h, allowList: a } : h)) });
    out.push({ name: `root-device:${u.hostBridge}`, why: u.why, alts: [
      { label: `${u.hostBridge}'s root device is on the allow list (any host bridge)`, apply: set('any') },
      { label: `${u.hostBridge}'s root device is on the allow list (same host bridge only)`, apply: set('same-host-bridge') },
      { label: `${u.hostBridge}'s root device is not on the allow list`, apply: set('none') },
    ] });
  }
  return out;
}

export interface Case { readonly topology: Topology; readonly idx: TopologyIndex; readonly choice: readonly number[] }

/** Every combination of the unknown facts, each with its topology and index. */
export class Cases {
  readonly facts: readonly Fact[];
  readonly all: readonly Case[];

  constructor(readonly topology: Topology) {
    this.facts = facts(topology);
    let combos: number[][] = [[]];
    for (const f of this.facts) combos = combos.flatMap((c) => f.alts.map((_, i) => [...c, i]));
    this.all = combos.map((choice) => {
      const t = this.facts.reduce((x, f, k) => f.alts[choice[k]!]!.apply(x), topology);
      return { topology: t, idx: new TopologyIndex(t), choice };
    });
  }

  get known(): boolean {
    return this.facts.length === 0;
  }

  /** The answer in every case; `when` names only the facts the answer depends on. */
  answer<A>(ask: (c: Case) => A, key: (a: A) => string = (a) => JSON.stringify(a)): Decided<A> {
    const answers = this.all.map(ask);
    const keys = answers.map(key);
    const matters = this.facts.map((_, k) => this.all.some((c, i) => this.all.some((d, j) => keys[i] !== keys[j] && c.choice.every((x, m) => m === k || x === d.choice[m]))));
    const seen = new Map<string, { when: string[]; answer: A }>();
    this.all.forEach((c, i) => {
      const when = this.facts.flatMap((f, k) => (matters[k] ? [f.alts[c.choice[k]!]!.label] : []));
      const id = when.join('|');
      if (!seen.has(id)) seen.set(id, { when, answer: answers[i]! });
    });
    const cases = [...seen.values()];
    // Determined: the answer of the case that assumes least (CPU other, root device not listed, ACS set).
    return { determined: new Set(keys).size === 1, answer: answers[answers.length - 1]!, missing: this.facts.filter((_, k) => matters[k]).map((f) => f.why), cases };
  }
}

export interface Decided<A> {
  /** The same answer in every case. */
  readonly determined: boolean;
  /** The answer of the last case (the one that assumes least). */
  readonly answer: A;
  /** What the source did not say that the answer depends on. */
  readonly missing: readonly string[];
  readonly cases: readonly { readonly when: readonly string[]; readonly answer: A }[];
}
