// The shipped JSON Schema of the topology format (topology.schema.json, run
// by ajv) in front of models/pci/load.ts: the schema names a bad field the
// way an editor does, the model's loader checks what a schema cannot
// (unique ids, parents, devfn per bus, BAR alignment). One line per error.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { parseTopology, type Parsed } from '../../models/pci/load.ts';
import type { Topology } from '../../models/pci/topology.ts';

export const TOPOLOGY_SCHEMA_URL = new URL('./topology.schema.json', import.meta.url);

/** The build's precompiled validator (scripts/build.mjs, ajv standalone): no ajv to load or schema to compile at start. */
const PRECOMPILED = new URL('./topology.validate.cjs', import.meta.url);

let validate: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (validate) return validate;
  const require = createRequire(import.meta.url);
  if (existsSync(PRECOMPILED)) return (validate = require(fileURLToPath(PRECOMPILED)) as ValidateFunction);
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  return (validate = new Ajv2020({ allErrors: false, strict: false }).compile(JSON.parse(readFileSync(TOPOLOGY_SCHEMA_URL, 'utf8')) as object));
}

/** "/devices/0/acs/rr" → "topology.devices[0].acs.rr". */
export function fieldPath(pointer: string): string {
  return `topology${pointer.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`)).join('')}`;
}

function oneLine(e: ErrorObject): string {
  const p = e.params as { additionalProperty?: string; allowedValues?: unknown[] };
  if (e.keyword === 'additionalProperties') return `${fieldPath(`${e.instancePath}/${p.additionalProperty}`)}: unknown field`;
  if (e.keyword === 'enum') return `${fieldPath(e.instancePath)}: expected one of ${(p.allowedValues ?? []).join(', ')}`;
  return `${fieldPath(e.instancePath)}: ${e.message ?? 'invalid'}`;
}

/** Schema first, then the model's loader. */
export function validateTopology(json: unknown): Parsed<Topology> {
  const v = validator();
  if (!v(json)) return { ok: false, error: oneLine(v.errors![0]!) };
  return parseTopology(json);
}
