// The runner's JSON report: the source of truth that every renderer reads
// (issue 7 writes it, issue 8 renders it). Keep this file and
// src/report/report.schema.json in step.
import type { Profile } from '../../models/profiles.ts';
import type { RuleId } from '../rules/registry.ts';
import type { PluginKind } from '../harness/plugin.ts';
import type { Platform } from '../kernel/platform.ts';

export const REPORT_SCHEMA_VERSION = 1;

/** Who acts in a step: the lanes of the sequence diagram. */
export type Lane = 'user' | 'device' | 'exporter' | 'core' | 'importer' | 'iommu';

export interface Step {
  readonly index: number;
  /** Lane the call starts in, and the lane it goes to. */
  readonly from: Lane;
  readonly to: Lane;
  /** The command as a reader writes it: `map(att1)`, `FLR(dev0)`. */
  readonly command: string;
  /** What the implementation returned: 'ok', '-ENODEV', ... */
  readonly result: string;
  /** What the model expected. */
  readonly expected: string;
  /** The rule this step broke, on the failing step. */
  readonly rule?: RuleId;
}

/** The route taken between two PCI functions (dmabuf-conform route). */
export interface RouteInfo {
  readonly provider: string;
  readonly client: string;
  readonly mapType: string;
  readonly distance: number;
  readonly path: readonly string[];
  readonly blockedBy: readonly string[];
}

export interface Counterexample {
  /** Which suite produced it: decides how `replay` re-runs it. */
  readonly suite: 'route' | 'convert' | 'lifecycle' | 'match';
  readonly steps: readonly Step[];
  /** Index into steps of the step that broke the rule. */
  readonly failingStep: number;
  /** Topology in the file format of models/pci (for the SVG picture). */
  readonly topology?: unknown;
  readonly route?: RouteInfo;
  /** The suite-specific input that replays the case exactly (JSON-safe). */
  readonly input: unknown;
}

export interface ViolationRecord {
  /** Stable id inside the report: `<implementation>/<rule>/<n>`. */
  readonly id: string;
  readonly rule: RuleId;
  readonly implementation: string;
  readonly profile: Profile;
  /** The documented finding (reports/FINDINGS.md) this violation is, when it is one: known whatever the implementation. */
  readonly finding?: string;
  readonly message: string;
  readonly evidence: unknown;
  /** Stable fingerprint of the shrunk counterexample (rule + impl + input). */
  readonly fingerprint: string;
  /** The shell command that replays this case. */
  readonly replay: string;
  /** true when the baseline lists this fingerprint. */
  readonly known: boolean;
  readonly counterexample: Counterexample;
}

/** `not-applicable`: outside the run's --rules; `not-checked`: in the run, but no case ran (`why` says what
 *  stopped it: a PLUGIN-TIMEOUT or PLUGIN-EXIT of its worker, --time, --bail). A rule 0 runs checked has not passed. */
export type RuleStatus = 'pass' | 'violation' | 'known' | 'not-checked' | 'not-applicable';

/** Does a result count as a check (summary.checks)? Not when the rule was outside --rules or no case ran. */
export const isCheck = (status: RuleStatus): boolean => status !== 'not-applicable' && status !== 'not-checked';

export interface RuleResult {
  readonly implementation: string;
  readonly profile: Profile;
  readonly rule: RuleId;
  readonly runs: number;
  readonly status: RuleStatus;
  /** With status `not-checked`: why no case ran, as a reader says it. */
  readonly why?: string;
  readonly violations: readonly string[]; // ViolationRecord ids
}

export interface Report {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: { readonly name: 'dmabuf-conform'; readonly version: string };
  readonly seed: number;
  readonly profiles: readonly Profile[];
  /** The simulated machine the run used (run --iommu, --dma-map; by default chosen from the seed):
   *  what a link onto a mapped IOVA does, and whether dma_map_phys() goes through dma-iommu. */
  readonly platform?: Platform;
  /** `cutShort` (with --time): the targets whose first round the deadline stopped (or that never started), so they got less than `runs`. */
  readonly budget: { readonly runs: number; readonly timeMs?: number; readonly exhaustive?: number; readonly cutShort?: readonly string[] };
  /** The failure corpus replayed first (--corpus, default `dirname(--out)/corpus`): its folder as given, and the entries replayed. */
  readonly corpus?: { readonly path: string; readonly replayed: number };
  /** A shard's report (--shard i/n): which part, and every implementation of the whole run in its order (merge-reports rebuilds it). */
  readonly shard?: { readonly index: number; readonly total: number; readonly implementations: readonly string[] };
  readonly implementations: readonly { readonly name: string; readonly kind: PluginKind; readonly profiles: readonly Profile[] }[];
  readonly summary: { readonly checks: number; readonly violations: number; readonly known: number; readonly new: number };
  readonly results: readonly RuleResult[];
  readonly violations: readonly ViolationRecord[];
  /** Wall-clock figures: the only part that differs between two runs of one seed. */
  readonly timings: { readonly totalMs: number; readonly perImplementationMs: Readonly<Record<string, number>> };
}
