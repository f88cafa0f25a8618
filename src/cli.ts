// dmabuf-conform: the command-line entry. Each command lives in
// src/commands/<name>.ts and exports `run(args): Promise<number>` and, for
// `--help`, its `USAGE` line. Exit codes (README.md, "Exit codes"): 0 ok,
// 1 a new violation (or violations listed), 2 usage or bad input.
import { existsSync, readFileSync } from 'node:fs';
import { EXIT, UsageError } from './commands/usage.ts';

type CommandModule = { run(args: string[]): Promise<number>; USAGE?: string; HELP?: string };
type Command = { summary: string; load: () => Promise<CommandModule> };

const COMMANDS: Record<string, Command> = {
  route: { summary: 'route <topology.json|lspci.txt> <provider> <client> [--bar N] [--cpu V:F] [--routing classic|divergence] [--diff-routing] | --distance-many P C...: pci_p2pdma_map_type(), distance, path, ACS blockers', load: () => import('./commands/route.ts') },
  matrix: { summary: 'matrix <topology.json|lspci.txt> [--devices A,B] [--cpu V:F] [--routing R] [--diff-routing] [--json|--svg]: map type and distance of every endpoint pair', load: () => import('./commands/matrix.ts') },
  topology: { summary: 'topology import <lspci.txt> [--cpu V:F]: the topology JSON of an lspci dump, unknowns named', load: () => import('./commands/topology.ts') },
  run: { summary: 'run [--profile P] [--exporter PATH|name] [--importer PATH|name] [--rules IDS] [--seed N] [--runs N|--time 30s] [--exhaustive K] [--out DIR] [--corpus DIR] [--shard I/N] [--baseline FILE] [--write-baseline FILE] [--bail] [--quiet]', load: () => import('./commands/run.ts') },
  'merge-reports': { summary: 'merge-reports DIR... [--out DIR]: the reports of run --shard i/n joined into the unsharded run\'s (all renderings, same exit code)', load: () => import('./commands/merge-reports.ts') },
  replay: { summary: 'replay <report.json|case.json> [--case ID] [--exporter|--importer|--plugin PATH|name]...: re-run one counterexample step by step (a report\'s, or one case such as examples/findings/*.json), on its own implementation or on the ones given', load: () => import('./commands/replay.ts') },
  rules: { summary: 'rules: list the rule catalog', load: () => import('./commands/rules.ts') },
  plugins: { summary: 'plugins [--bugs]: the bundled plugins and the kernel C units (--kernel-tree/--kernel-patch) by name, with the flag that selects each', load: () => import('./commands/plugins.ts') },
  explain: { summary: 'explain RULE: the rule, its seed passage and the smallest known violation', load: () => import('./commands/explain.ts') },
  'self-test': { summary: 'self-test [--seed N] [--runs N] [--bug NAME]: every seeded bug through the user path, found with its own rule', load: () => import('./commands/self-test.ts') },
  profiles: { summary: 'profiles [--diff A B]: the v8, rfc and converter designs, or the rules and behaviours that differ between two', load: () => import('./commands/profiles.ts') },
  convert: { summary: 'convert <case.json>: a VFIO dma-buf request through the create path and the PAL to SGT conversion', load: () => import('./commands/convert.ts') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${c.summary.startsWith(name) ? c.summary : `${name}: ${c.summary}`}`);
  return ['usage: dmabuf-conform <command> [options]', '       dmabuf-conform --version', ...lines, 'exit codes: 0 ok, 1 a new violation (or violations listed), 2 usage or bad input'].join('\n');
}

/** The package's version, from its package.json (the nearest one named dmabuf-conform above this file). */
export function version(): string {
  for (const up of ['../', '../../', '../../../']) {
    const file = new URL(`${up}package.json`, import.meta.url);
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'dmabuf-conform' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

/** `--help` or `-h` among a command's arguments (before a `--`). */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Run one command line (without `node` and the script).
 * @returns the exit code: 0 ok, 1 a new violation or violations listed, 2 usage or bad input.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`dmabuf-conform ${version()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`dmabuf-conform: unknown command '${name}' (try --help)\n`);
    return EXIT.usage;
  }
  try {
    const mod = await command.load();
    if (wantsHelp(args)) {
      process.stdout.write(`${mod.HELP ?? mod.USAGE ?? `usage: dmabuf-conform ${command.summary}`}\n`);
      return EXIT.ok;
    }
    return await mod.run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.exitCode === EXIT.ok) process.stdout.write(`${e.message}\n`);
      else process.stderr.write(`dmabuf-conform ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    // A failure of the tool itself: still one line and exit 2, never a stack trace or another code.
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    process.stderr.write(`dmabuf-conform ${name}: internal error: ${msg} (please report it)\n`);
    return EXIT.usage;
  }
}
