// npm run bench: how fast the suite finds each seeded bug (and how much
// sooner than a uniform baseline), lifecycle throughput with and without the
// checkers, exhaustive mode, the conversion model, and `npm test`; prints
// tables with every goal met or missed and writes reports/bench.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RUNS, DEFAULT_SEED } from '../src/commands/run.ts';
import { UsageError } from '../src/commands/usage.ts';
import { writeAtomic } from '../src/harness/runner.ts';
import { seededBugs as allSeededBugs } from '../src/bugs/index.ts';
import { BENCH_USAGE, parseBenchArgs, SECTIONS, type BenchArgs, type Section } from './args.ts';
import { benchColdStart, benchTime, ensureBuild, type ColdStartBench, type TimeBench } from './cli.ts';
import type { ConversionBench } from './conversion.ts';
import type { ExhaustiveBench } from './exhaustive.ts';
import { goals, type StepsAndCeiling } from './goals.ts';
import { benchNpmTest } from './npm-test.ts';
import { baselineTable, bugsTable, ceilingTable, cliTable, conversionTable, exhaustiveTable, goalsTable, npmTestLine, stepsTable } from './render.ts';
import { benchBug, type BugBench } from './seeded-bugs.ts';
import { fmt } from './table.ts';

const OUT = 'reports/bench.json';
const SEEDS = Array.from({ length: 10 }, (_, i) => DEFAULT_SEED + i);
/** Runs per search, state-aware and baseline alike: the default budget of `run` and `self-test`; --deep five times that. */
const BUDGET = { quick: DEFAULT_RUNS, deep: 5 * DEFAULT_RUNS };
const SEQUENCES = { quick: 5_000, deep: 20_000 };

const say = (text: string): void => void process.stdout.write(`${text}\n\n`);

/** A throughput section measured in a fresh process (this one's runtime flags: tsx), its figures. */
function isolated<T>(section: string, ...args: string[]): T {
  const script = fileURLToPath(new URL('./isolated.ts', import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, script, section, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench section ${section} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(r.stdout) as T;
}

async function seededBugs(budget: number): Promise<BugBench[]> {
  const bugs = allSeededBugs();
  const out: BugBench[] = [];
  for (const [i, b] of bugs.entries()) {
    process.stderr.write(`[${i + 1}/${bugs.length}] ${b.plugin.name}\n`);
    out.push(await benchBug(b, SEEDS, budget));
  }
  return out;
}

const load = (): string => loadavg().map((x) => fmt(x, 2)).join(' ');

async function bench(args: BenchArgs): Promise<void> {
  const depth = args.deep ? 'deep' : 'quick';
  const on = (s: Section) => args.only.has(s);
  const loadAtStart = loadavg();
  say(`dmabuf-conform bench (${depth}): seeds ${SEEDS.join(', ')}; node ${process.version}, ${cpus().length} CPUs, load average ${load()}${args.only.size < SECTIONS.length ? `; only ${[...args.only].join(', ')}` : ''}`);
  // Throughput first, each section in a process of its own (bench/isolated.ts): another section's
  // runs, and the bug searches most, leave the JIT megamorphic.
  // The lifecycle runs the build's modules, as `npx dmabuf-conform run` does (built first when the sources are newer).
  const stepsArgs = [String(DEFAULT_SEED), String(SEQUENCES[depth])] as const;
  const measured: StepsAndCeiling | null = on('steps')
    ? { lifecycleSteps: isolated<StepsAndCeiling['lifecycleSteps']>('steps', ...stepsArgs, ensureBuild() ? 'dist' : 'src'), ...isolated<Omit<StepsAndCeiling, 'lifecycleSteps'>>('ceiling', ...stepsArgs) }
    : null;
  const { lifecycleSteps, ceiling, asyncCeiling } = measured ?? { lifecycleSteps: null, ceiling: null, asyncCeiling: null };
  if (measured) {
    say(stepsTable(measured.lifecycleSteps));
    say(ceilingTable(measured));
  }
  const exhaustive = on('exhaustive') ? isolated<ExhaustiveBench[]>('exhaustive') : null;
  if (exhaustive) say(exhaustiveTable(exhaustive));
  const conversion = on('conversion') ? isolated<ConversionBench[]>('conversion') : null;
  if (conversion) say(conversionTable(conversion));
  let coldStart: ColdStartBench[] | null = null;
  let time: TimeBench | null = null;
  if (on('cli')) {
    const fromBuild = ensureBuild();
    coldStart = [['--version'], ['rules']].map((a) => benchColdStart(a, fromBuild));
    time = await benchTime(3000);
    say(cliTable(coldStart, time));
  }
  const seededBugsResult = on('bugs') ? await seededBugs(BUDGET[depth]) : null;
  if (seededBugsResult) {
    say(bugsTable(seededBugsResult, BUDGET[depth]));
    say(baselineTable(seededBugsResult));
  }
  const npmTest = args.npmTest ? await benchNpmTest() : null;
  say(npmTestLine(npmTest));
  const results = { seededBugs: seededBugsResult, lifecycleSteps, ceiling, asyncCeiling, exhaustive, conversion, coldStart, time, npmTest };
  const judged = goals(results);
  say(goalsTable(judged));
  say(`load average at the end: ${load()}`);
  mkdirSync('reports', { recursive: true });
  const loadAverage = { start: loadAtStart, end: loadavg() };
  writeAtomic(OUT, `${JSON.stringify({ version: 1, date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverage, depth, sections: [...args.only], seeds: SEEDS, budget: BUDGET[depth], ...results, goals: judged }, null, 2)}\n`);
  process.stdout.write(`wrote ${OUT}\n`);
}

async function main(argv: string[]): Promise<number> {
  try {
    const args = parseBenchArgs(argv);
    if (args.help) {
      process.stdout.write(`${BENCH_USAGE}\n`);
      return 0;
    }
    await bench(args);
    return 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n`);
    return e.exitCode;
  }
}

process.exitCode = await main(process.argv.slice(2));
