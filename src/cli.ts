// dmabuf-conform: the command-line entry. Each command lives in
// src/commands/<name>.ts and exports `run(args): Promise<number>`.
import { UsageError } from './commands/usage.ts';

type Command = { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  route: { summary: 'route <topology.json> <provider> <client>: p2pdma map type, distance, path, ACS blockers', load: () => import('./commands/route.ts') },
  run: { summary: 'run [--profile P] [--exporter PATH|name] [--importer PATH|name] [--rules IDS] [--seed N] [--runs N|--time 30s] [--exhaustive K] [--out DIR] [--baseline FILE] [--write-baseline FILE] [--bail] [--quiet]', load: () => import('./commands/run.ts') },
  replay: { summary: 'replay <report.json> [--case ID]: re-run one counterexample step by step', load: () => import('./commands/replay.ts') },
  rules: { summary: 'rules: list the rule catalog', load: () => import('./commands/rules.ts') },
  explain: { summary: 'explain RULE: the rule, its seed passage and the smallest known violation', load: () => import('./commands/explain.ts') },
  profiles: { summary: 'profiles [--diff A B]: the v8, rfc and converter designs, or the rules and behaviours that differ between two', load: () => import('./commands/profiles.ts') },
  convert: { summary: 'convert <case.json>: a VFIO dma-buf request through the create path and the PAL to SGT conversion', load: () => import('./commands/convert.ts') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${c.summary.startsWith(name) ? c.summary : `${name}: ${c.summary}`}`);
  return ['usage: dmabuf-conform <command> [options]', ...lines].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`dmabuf-conform: unknown command '${name}' (try --help)\n`);
    return 2;
  }
  try {
    return await (await command.load()).run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`dmabuf-conform ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`dmabuf-conform ${name}: internal error: ${msg}\n`);
    return 3;
  }
}
