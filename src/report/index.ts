// Writes the JSON report (the source of truth) and everything rendered from
// it into one directory: report.json, junit.xml, report.tap, summary.md,
// report.html. The report is checked against the shipped schema first and
// every file is rendered before any is written; each is written atomically
// (a temporary file in the same directory, then a rename), so an interrupted
// run leaves either the old file or the new one, never half of one.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtml } from './html.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import { validateReport } from './validate.ts';
import { renderTap } from './tap.ts';
import type { Report } from './types.ts';

export { readJsonFile, validateFile, validateReport, type Checked, type FileKind } from './validate.ts';

export const REPORT_FILES = ['report.json', 'junit.xml', 'report.tap', 'summary.md', 'report.html'] as const;

/** report.json: pretty, timings last (the one part two runs of a seed may differ in). */
export function reportJson(report: Report): string {
  const { timings, ...rest } = report;
  return `${JSON.stringify({ ...rest, timings }, null, 2)}\n`;
}

/** Write `text` to `path` through a temporary file and a rename. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Every report file's text, keyed by file name; throws (one line) when the report breaks the schema. */
export function renderReports(report: Report): Record<(typeof REPORT_FILES)[number], string> {
  const json = reportJson(report);
  const checked = validateReport(JSON.parse(json));
  if (!checked.ok) throw new Error(`the report does not match schemas/report.schema.json: ${checked.error}`);
  const r = checked.value; // render what report.json says, exactly
  return { 'report.json': json, 'junit.xml': renderJunit(r), 'report.tap': renderTap(r), 'summary.md': renderMarkdown(r), 'report.html': renderHtml(r) };
}

export function writeReports(report: Report, dir: string): void {
  const files = renderReports(report);
  mkdirSync(dir, { recursive: true });
  for (const name of REPORT_FILES) writeFileAtomic(join(dir, name), files[name]);
}
