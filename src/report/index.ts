// Writes the JSON report (the source of truth) and everything rendered from
// it into one directory, each file atomically (temporary file, then rename),
// so an interrupted run never leaves a half-written report.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../harness/runner.ts';
import type { Report } from './types.ts';
import { renderHtml } from './html.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import { renderTap } from './tap.ts';

export function reportJson(report: Report): string {
  const { timings, ...rest } = report;
  return `${JSON.stringify({ ...rest, timings }, null, 2)}\n`;
}

export function writeReports(report: Report, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeAtomic(join(dir, 'report.json'), reportJson(report));
  writeAtomic(join(dir, 'junit.xml'), renderJunit(report));
  writeAtomic(join(dir, 'report.tap'), renderTap(report));
  writeAtomic(join(dir, 'summary.md'), renderMarkdown(report));
  writeAtomic(join(dir, 'report.html'), renderHtml(report));
}
