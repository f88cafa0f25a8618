// dmabuf-conform topology import <lspci.txt> [--cpu ...]: the topology JSON
// of an lspci dump (schema: src/topology/topology.schema.json), with the
// facts the dump does not state listed under "unknown"; notes go to stderr.
import { topologyToJson } from '../../models/pci/load.ts';
import { cpuOption, loadInput } from '../topology/input.ts';
import { parseFlags, toJson, UsageError } from './usage.ts';

const USAGE = 'usage: dmabuf-conform topology import <lspci.txt|topology.json> [--cpu VENDOR:FAMILY|cpuinfo]';

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { cpu: { type: 'string' } }, USAGE);
  if (positionals.length !== 2 || positionals[0] !== 'import') throw new UsageError(USAGE);
  const { topology, notes } = await loadInput(positionals[1]!, cpuOption(values.cpu));
  process.stdout.write(`${toJson({ $schema: '../src/topology/topology.schema.json', ...(topologyToJson(topology) as object) })}\n`);
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  for (const u of topology.unknown ?? []) if (u.fact !== 'acs') process.stderr.write(`unknown: ${u.why}\n`);
  const acs = (topology.unknown ?? []).filter((u) => u.fact === 'acs').length;
  if (acs > 0) process.stderr.write(`unknown: the ACS control of ${acs} device(s) (route and matrix answer for both cases)\n`);
  return 0;
}
