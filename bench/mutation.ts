// The mutation score (issue 11 item 8) for the benchmark.
//   npx tsx bench/mutation.ts           prints the table from reports/mutation.json
//   npx tsx bench/mutation.ts --write   first summarises Stryker's raw reports
//                                       (reports/mutation/{impl,kernel}.json, `npm run mutation`)
//                                       with the equivalent mutants triaged below into
//                                       reports/mutation.json
// bench/index.ts can show the same table with `mutationTable(readMutation())`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, table } from './table.ts';

export const RAW = ['reports/mutation/impl.json', 'reports/mutation/kernel.json'];
export const SUMMARY = 'reports/mutation.json';

/** A mutant that no test can kill because the program means the same with it. Matched by
 *  file, mutator and replacement text, and by `code` (a piece of the mutated source line) when
 *  given, else by line number: with `code` an entry follows its line when other edits move it.
 *  One that no longer matches is listed as stale. */
export interface Equivalent {
  readonly file: string;
  readonly line: number;
  readonly mutator: string;
  readonly replacement: string;
  readonly code?: string;
  readonly reason: string;
}

/** Triaged in reports/MUTATION.md; each with the one-line reason it cannot be killed. */
export const EQUIVALENT: readonly Equivalent[] = [
  {
    file: 'src/kernel/scatterlist.ts', line: 61, mutator: 'EqualityOperator', replacement: 'num_ents >= SG_MAX_SINGLE_ALLOC',
    reason: 'sg_free_table: >= only adds loop iterations past the last chunk, where chunks[i] is undefined and nothing is freed',
  },
  { file: 'src/impl/dma-buf-mapping.ts', line: 49, mutator: 'BlockStatement', replacement: '{}', code: 'function sg_set_page_null(',
    reason: 'the entries come from sg_alloc_table() zeroed (page null, offset 0, length 0): setting them again writes what is there' },
  { file: 'src/impl/dma-buf-mapping.ts', line: 66, mutator: 'EqualityOperator', replacement: 'length <= UINT_MAX', code: 'const len = length < UINT_MAX ? length : UINT_MAX;',
    reason: 'at length == UINT_MAX both arms are UINT_MAX' },
  { file: 'src/impl/dma-buf-mapping.ts', line: 200, mutator: 'EqualityOperator', replacement: 'length <= max', code: 'const len = length < max ? length : max;',
    reason: 'at length == max both arms are max' },
  { file: 'src/impl/dma-buf-mapping.ts', line: 93, mutator: 'UnaryOperator', replacement: '+22', code: 'if (!provider) return errno(-22);',
    reason: 'errno() names any value it does not know -EINVAL, so +22 is -EINVAL too (both ports)' },
  { file: 'src/impl/dma-buf-mapping.ts', line: 121, mutator: 'UnaryOperator', replacement: '+22', code: 'ret = -22;',
    reason: 'ret is only tested for non-zero and named by errno(), which gives -EINVAL for an unknown value (both ports)' },
  { file: 'src/impl/dma-buf-mapping.ts', line: 98, mutator: 'ConditionalExpression', replacement: 'true', code: 'if (from === \'err_unmap_dma\') {',
    reason: 'at the other labels nothing is mapped yet (i == 0) and the table is empty (never allocated, or unwound by sg_alloc_table itself): the block frees nothing (both ports)' },
  { file: 'src/impl/dma-buf-mapping.ts', line: 174, mutator: 'ConditionalExpression', replacement: 'true', code: 'j < sgt.nents && sgl;',
    reason: 'sg_at() returns null at nents, which ends the walk: the bound is redundant' },
  { file: 'src/impl/dma-buf-mapping.ts', line: 174, mutator: 'EqualityOperator', replacement: 'j <= sgt.nents', code: 'j < sgt.nents && sgl;',
    reason: 'sg_at() returns null at nents, which ends the walk: the bound is redundant' },
  { file: 'src/impl/dma_importer.ts', line: 48, mutator: 'ConditionalExpression', replacement: 'true', code: 'if (this.sgt) await this.unmap();',
    reason: 'unmap() with no table takes resv, finds nothing and returns -EINVAL, which detach ignores' },
  { file: 'src/impl/iommufd.ts', line: 87, mutator: 'ConditionalExpression', replacement: 'true', code: 'if (this.mapping) await this.unmap();',
    reason: 'unmap() with no mapping takes resv, finds nothing and returns -EINVAL, which detach ignores' },
  { file: 'src/impl/iommufd.ts', line: 28, mutator: 'UpdateOperator', replacement: 'nextArea--', code: 'readonly area = `area${nextArea++}`;',
    reason: 'counting down still gives every attachment its own area name' },
  { file: 'src/impl/iommufd.ts', line: 82, mutator: 'BooleanLiteral', replacement: 'true', code: 'this.pinned = false;',
    reason: 'pinned is read only by unpinForDetach(), which detach runs once' },
  { file: 'src/impl/match_importers.ts', line: 118, mutator: 'UpdateOperator', replacement: 'nextArea--', code: 'readonly area = `marea${nextArea++}`;',
    reason: 'counting down still gives every attachment its own area name' },
  { file: 'src/impl/match_importers.ts', line: 65, mutator: 'ConditionalExpression', replacement: 'true', code: 'if (had) this.unmapLocked();',
    reason: 'unmapLocked() with nothing mapped touches the live attachment and clears what is already clear' },
  { file: 'src/impl/match_importers.ts', line: 71, mutator: 'ConditionalExpression', replacement: 'true', code: 'if (this.mapped()) await this.unmap();',
    reason: 'unmap() with nothing mapped takes resv, clears nothing and returns -EINVAL, which detach ignores' },
  { file: 'src/impl/match_importers.ts', line: 86, mutator: 'ConditionalExpression', replacement: 'true', code: 'if (this.mapped()) this.unmapLocked();',
    reason: 'move_notify: unmapLocked() with nothing mapped clears what is already clear (DMA and iommufd importers)' },
  { file: 'src/impl/vfio/vfio_pci_dmabuf_match.ts', line: 55, mutator: 'ConditionalExpression', replacement: 'true', code: 'o === VFIO_SGT_P2P ?',
    reason: "the mapping-type profiles offer only 'PAL' and VFIO_SGT_P2P (models/profiles.ts vfioOffers), so past the PAL test every entry is the SGT one" },
  { file: 'src/impl/vfio/vfio_pci_dmabuf_match.ts', line: 71, mutator: 'MethodExpression', replacement: 'k.heap.use(priv.phys_vec, site)', code: '.slice(0, priv.nr_ranges)',
    reason: 'phys_vec is filled with exactly nr_ranges entries at create (dmabuf_phys.ts), so the slice copies all of it' },
  { file: 'src/impl/vfio/dmabuf_phys.ts', line: 18, mutator: 'ConditionalExpression', replacement: 'false', code: "if (!r.length) return err('-EINVAL');",
    reason: "validate_dmabuf_input() rejects a zero length (-EINVAL) before the fill is reached, as in the kernel, so the fill's own check never decides" },
  { file: 'src/impl/vfio/vfio_pci_dmabuf_mainline.ts', line: 58, mutator: 'ConditionalExpression', replacement: 'true', code: 'return a.importer_ops.move_notify !== undefined;',
    reason: 'dma_buf_attach_revocable(): the simulated core has only the dynamic attach, which refuses an importer without move_notify (-EINVAL) before the exporter is asked: every attachment VFIO sees is revocable' },
  { file: 'src/impl/vfio/vfio_pci_dmabuf_mainline.ts', line: 69, mutator: 'UnaryOperator', replacement: '+95', code: 'return dma_buf_attach_revocable(attachment) ? 0 : -95;',
    reason: 'unreachable: every attachment is revocable (see dma_buf_attach_revocable); a static attach (importer_ops NULL) is not simulated' },
  { file: 'src/impl/vfio/vfio_pci_dmabuf_mainline.ts', line: 104, mutator: 'BlockStatement', replacement: '{}', code: 'function waitFences(dmabuf: DmaBuf, site: string): void {',
    reason: "the only caller (revokeAndDrain) takes resv just before, so the assertion can never fire; the fences themselves are none (the simulated importers fence nothing)" },
  { file: 'src/impl/vfio/vfio_pci_dmabuf_mainline.ts', line: 149, mutator: 'ConditionalExpression', replacement: 'true', code: 'if (i >= 0) vdev.dmabufs.splice(i, 1);',
    reason: "the cleanup calls list_del() on an entry of the list it walks, holding memory_lock (which release's list_del needs) and a file reference, so the entry is always found" },
  { file: 'src/impl/p2pdma.ts', line: 66, mutator: 'ArrayDeclaration', replacement: '["Stryker was here"]', code: 'lastAcsList: string[] = [];',
    reason: 'calc_map_type_and_dist() sets lastAcsList before anything reads it' },
  { file: 'src/impl/vfio/vfio_pci_core.ts', line: 57, mutator: 'EqualityOperator', replacement: 'bar <= 6', code: 'for (let bar = 0; bar < 6; bar++) {',
    reason: 'a device config has BARs 0-5 only (region 6 is the ROM, never a BAR), so index 6 finds none and adds a null provider past the six' },
];

type Status = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';

interface RawMutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: Status;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
}

interface RawReport {
  readonly files: Record<string, { readonly source?: string; readonly mutants: readonly RawMutant[] }>;
}

export interface Counts {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  equivalent: number;
  /** Mutants the TypeScript checker rejected, or that broke the test run itself: not counted. */
  compileError: number;
  runtimeError: number;
  ignored: number;
  /** (killed + timeout) / (killed + timeout + survived + noCoverage), equivalents left out; percent. */
  score: number;
}

export interface SurvivorRow {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly mutator: string;
  readonly replacement: string;
  readonly status: 'Survived' | 'NoCoverage';
}

export interface MutationSummary {
  readonly tool: string;
  readonly command: string;
  readonly date: string;
  readonly total: Counts;
  readonly groups: Record<string, Counts>;
  readonly files: Record<string, Counts>;
  readonly survivors: readonly SurvivorRow[];
  readonly equivalents: readonly (Equivalent & { readonly matched: boolean })[];
}

const zero = (): Counts => ({ killed: 0, timeout: 0, survived: 0, noCoverage: 0, equivalent: 0, compileError: 0, runtimeError: 0, ignored: 0, score: 0 });

function scored(c: Counts): Counts {
  const detected = c.killed + c.timeout;
  const valid = detected + c.survived + c.noCoverage;
  return { ...c, score: valid === 0 ? 100 : Math.round((detected / valid) * 10_000) / 100 };
}

const firstLine = (s: string): string => s.split('\n')[0]!.trim();

/** The group a file is scored in: src/impl (the target) or src/kernel (the checkers). */
export const groupOf = (file: string): string => (file.startsWith('src/impl/') ? 'src/impl' : file.startsWith('src/kernel/') ? 'src/kernel' : 'other');

export function summarise(raw: RawReport, equivalents: readonly Equivalent[], date: string, root = process.cwd()): MutationSummary {
  const files: Record<string, Counts> = {};
  const groups: Record<string, Counts> = {};
  const total = zero();
  const survivors: SurvivorRow[] = [];
  const matched = new Set<Equivalent>();
  for (const [abs, f] of Object.entries(raw.files)) {
    const file = relative(root, abs) || abs;
    const fc = (files[file] ??= zero());
    const gc = (groups[groupOf(file)] ??= zero());
    const lines = f.source?.split('\n') ?? [];
    for (const m of f.mutants) {
      const replacement = firstLine(m.replacement ?? m.mutatorName);
      const line = m.location.start.line;
      const at = (e: Equivalent) => (e.code === undefined ? e.line === line : (lines[line - 1] ?? '').includes(e.code));
      let key: keyof Counts;
      // A listed equivalent that timed out is still equivalent: on a loaded machine its run only took too long.
      if (m.status === 'Survived' || m.status === 'NoCoverage' || m.status === 'Timeout') {
        const eq = equivalents.find((e) => e.file === file && at(e) && e.mutator === m.mutatorName && firstLine(e.replacement) === replacement);
        if (eq) {
          matched.add(eq);
          key = 'equivalent';
        } else if (m.status === 'Timeout') {
          key = 'timeout';
        } else {
          key = m.status === 'Survived' ? 'survived' : 'noCoverage';
          survivors.push({ file, line, column: m.location.start.column, mutator: m.mutatorName, replacement, status: m.status });
        }
      } else if (m.status === 'Killed') key = 'killed';
      else if (m.status === 'CompileError') key = 'compileError';
      else if (m.status === 'RuntimeError') key = 'runtimeError';
      else key = 'ignored';
      for (const c of [fc, gc, total]) c[key]++;
    }
  }
  survivors.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const map = (o: Record<string, Counts>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, scored(v)]));
  return {
    tool: 'Stryker 9.6.1 (vitest runner, TypeScript checker, perTest coverage)',
    command: 'npm run mutation',
    date,
    total: scored(total),
    groups: map(groups),
    files: map(files),
    survivors,
    equivalents: equivalents.map((e) => ({ ...e, matched: matched.has(e) })),
  };
}

export function readMutation(path = SUMMARY): MutationSummary | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as MutationSummary) : undefined;
}

/** One row per group and per file: score, killed, timeout, survived, no coverage, equivalent. */
export function mutationTable(s: MutationSummary): string {
  const row = (name: string, c: Counts) => [name, `${fmt(c.score, 2)} %`, fmt(c.killed), fmt(c.timeout), fmt(c.survived), fmt(c.noCoverage), fmt(c.equivalent), fmt(c.compileError)];
  const rows = [
    ...Object.entries(s.groups).map(([g, c]) => row(`${g} (all)`, c)),
    ...Object.entries(s.files).map(([f, c]) => row(f, c)),
  ];
  return table(`Mutation score (${s.command}, ${s.date}; ≥ 85 % goal on src/impl)`, ['file', 'score', 'killed', 'timeout', 'survived', 'no cov', 'equivalent', 'type error'], rows);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--write')) {
    const present = RAW.filter((f) => existsSync(f));
    if (!present.length) {
      process.stderr.write(`bench/mutation.ts: no ${RAW.join(' or ')}; run npm run mutation first\n`);
      process.exit(2);
    }
    for (const f of RAW.filter((f) => !present.includes(f))) process.stderr.write(`bench/mutation.ts: no ${f}: that part is left out of the summary\n`);
    const files = Object.assign({}, ...present.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as RawReport).files)) as RawReport['files'];
    const s = summarise({ files }, EQUIVALENT, new Date().toISOString().slice(0, 10));
    writeFileSync(SUMMARY, `${JSON.stringify(s, null, 2)}\n`);
    const stale = s.equivalents.filter((e) => !e.matched);
    if (stale.length) process.stderr.write(`bench/mutation.ts: ${stale.length} equivalent(s) no longer match a surviving or timed-out mutant: ${stale.map((e) => `${e.file}:${e.line}`).join(', ')}\n`);
  }
  const s = readMutation();
  if (!s) {
    process.stderr.write(`bench/mutation.ts: no ${SUMMARY}; run npm run mutation first\n`);
    process.exit(2);
  }
  process.stdout.write(`${mutationTable(s)}\n`);
}
