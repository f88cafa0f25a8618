// Every JSON file the tool reads is checked by one shipped JSON Schema
// (schemas/*.schema.json, draft 2020-12, run by ajv) and, where a schema
// cannot say it, by a cross-check in code. Every error is one line naming
// the file and the field as a JSON Pointer:
//   reports/baseline.json: /findings/3/fingerprint: must be string, got 3
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { isRuleId, type RuleId } from '../rules/registry.ts';
import { crossCheck } from './crossref.ts';
import type { Report } from './types.ts';

/** A baseline file: the known findings `run --baseline` accepts. */
export interface BaselineFile {
  readonly version: 1;
  readonly findings: readonly { readonly fingerprint: string; readonly implementation: string; readonly rule: RuleId; readonly why: string }[];
}

/** One failure-corpus file (reports/corpus/<hash>.json). */
export interface CorpusEntryFile {
  readonly implementation: string;
  readonly rule: RuleId;
  readonly input: unknown;
}

/** A `convert` case file as JSON (examples/cases/*.json); convert.ts turns it into a request. */
export interface CaseFile {
  readonly topology: unknown;
  readonly exporter: string;
  readonly client: string;
  readonly profile?: 'v8' | 'rfc' | 'converter';
  readonly route?: string;
  readonly pageSize?: string | number;
  readonly request: {
    readonly regionIndex?: number;
    readonly flags?: number;
    readonly nrRanges?: number;
    readonly ranges: readonly { readonly offset: string | number; readonly length: string | number }[];
  };
}

/** What each kind of file holds once it validates. */
export interface FileKinds {
  report: Report;
  baseline: BaselineFile;
  'corpus-entry': CorpusEntryFile;
  case: CaseFile;
}
export type FileKind = keyof FileKinds;
/** Every kind of file with a shipped schema: `schemas/<kind>.schema.json`. */
export const FILE_KINDS: readonly FileKind[] = ['report', 'baseline', 'corpus-entry', 'case'];

/** ok with the value (the same object, now typed), or one line saying what is wrong. */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** What no schema can say, per kind: `/pointer: what`, or null. */
const CROSS_CHECKS: { readonly [K in FileKind]?: (value: FileKinds[K]) => string | null } = {
  report: crossCheck,
  baseline: (b) => {
    const i = b.findings.findIndex((f) => !isRuleId(f.rule));
    return i < 0 ? null : `/findings/${i}/rule: unknown rule '${b.findings[i]!.rule}' (see dmabuf-conform rules)`;
  },
  'corpus-entry': (e) => (isRuleId(e.rule) ? null : `/rule: unknown rule '${e.rule}' (see dmabuf-conform rules)`),
};

/** The folder of the shipped schemas: `schemas/` at the package root, found from this file (src/ or a build of it). */
function schemasDir(): URL {
  for (const up of ['../../', '../../../', '../']) {
    const dir = new URL(`${up}schemas/`, import.meta.url);
    if (existsSync(new URL('report.schema.json', dir))) return dir;
  }
  throw new Error(`the shipped schemas/ folder is missing next to ${import.meta.url}`);
}

/** The path of a kind's shipped schema, for messages and editors. */
export function schemaFile(kind: FileKind): URL {
  return new URL(`${kind}.schema.json`, schemasDir());
}

/** A kind's shipped JSON Schema, parsed. */
export function schemaOf(kind: FileKind): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaFile(kind), 'utf8')) as Record<string, unknown>;
}

let ajv: Ajv2020 | undefined;
const compiled = new Map<FileKind, ValidateFunction>();

/** Compiled on first use: a command pays only for the schemas it reads. */
function validatorOf(kind: FileKind): ValidateFunction {
  let v = compiled.get(kind);
  if (!v) {
    ajv ??= new Ajv2020({ allErrors: false, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
    v = ajv.compile(schemaOf(kind));
    compiled.set(kind, v);
  }
  return v;
}

/** A value for a message: short JSON. */
export function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

const pointerKey = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** One ajv error as `/pointer: what`. The root is written `/`. */
export function describeError(e: ErrorObject): string {
  const at = (p: string) => p || '/';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': return `${e.instancePath}/${pointerKey(String(p.missingProperty))}: missing (required)`;
    case 'additionalProperties': return `${e.instancePath}/${pointerKey(String(p.additionalProperty))}: unknown field`;
    case 'type': return `${at(e.instancePath)}: must be ${String(p.type).replace(',', ' or ')}, got ${show(e.data)}`;
    case 'enum': return `${at(e.instancePath)}: must be one of ${(p.allowedValues as unknown[]).map((x) => (typeof x === 'string' ? x : show(x))).join(', ')}, got ${show(e.data)}`;
    case 'const': return `${at(e.instancePath)}: must be ${show(p.allowedValue)}, got ${show(e.data)}`;
    default: return `${at(e.instancePath)}: ${e.message ?? e.keyword}, got ${show(e.data)}`;
  }
}

/** A parsed value checked as a file of `kind`: `/pointer: what` on error, no file name. */
export function validateValue<K extends FileKind>(kind: K, value: unknown): Checked<FileKinds[K]> {
  const v = validatorOf(kind);
  if (!v(value)) return { ok: false, error: describeError(v.errors![0]!) };
  const cross = (CROSS_CHECKS[kind] as ((x: FileKinds[K]) => string | null) | undefined)?.(value as FileKinds[K]) ?? null;
  return cross ? { ok: false, error: cross } : { ok: true, value: value as FileKinds[K] };
}

/**
 * A parsed JSON value read from `file`, checked against the shipped schema of
 * `kind` and its cross-checks.
 * @returns the value, typed; or one line `file: /pointer: what`, e.g.
 *   `reports/baseline.json: /findings/3/fingerprint: must be string, got 3`.
 */
export function validateFile<K extends FileKind>(kind: K, file: string, value: unknown): Checked<FileKinds[K]> {
  const r = validateValue(kind, value);
  return r.ok ? r : { ok: false, error: `${file}: ${r.error}` };
}

/**
 * Read, parse and validate one file. Every failure is one line naming the file:
 * `x.json: no such file`, `x.json: is a directory`, `x.json: not JSON (Unexpected token ...)`,
 * or a schema error as validateFile gives it.
 */
export function readJsonFile<K extends FileKind>(kind: K, file: string): Checked<FileKinds[K]> {
  let text: string;
  try {
    if (statSync(file).isDirectory()) return { ok: false, error: `${file}: is a directory, not a ${kind} file` };
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, error: `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `${file}: not JSON (${(e as Error).message})` };
  }
  return validateFile(kind, file, value);
}

/** The shipped report schema's checks on a parsed report: `/pointer: what` on error. */
export function validateReport(value: unknown): Checked<Report> {
  return validateValue('report', value);
}
