// Where a plugin's code called into the simulated kernel, as the kernel C path names a C file:line
// (src/kernel-c/sites.ts): the first stack frame outside the suite's own code (this package's src/, models/, bin/,
// dist/, node_modules/, its tests and bench, node's internals), source-mapped for a TypeScript plugin (tsx, or
// node's --enable-source-maps: whichever is on maps the frame). Taken only when a violation is reported
// (PluginSiteLog) or a hook threw: the lifecycle's hot path never captures a stack.
import { findSourceMap } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../package-root.ts';
import { ViolationLog } from '../rules/violation.ts';
import type { RuleId } from '../rules/registry.ts';

/** The folders of this copy of the package whose code is the suite's, not a plugin's. */
const SUITE_DIRS = ['src', 'models', 'dist', 'bin', 'node_modules', 'properties', 'bench', 'c'].map((d) => `${PACKAGE_ROOT}${sep}${d}${sep}`);

/** A file name as a stack gives it (a path, a file: URL, node:internal/..., or none) as a path, or null when it is no file. */
function pathOf(file: string | null | undefined): string | null {
  if (!file) return null;
  if (file.startsWith('file://')) {
    try {
      return fileURLToPath(file);
    } catch {
      return null;
    }
  }
  return file.startsWith(sep) || /^[A-Za-z]:[\\/]/.test(file) ? file : null;
}

/** What isPluginFile() answered for each file name a stack gave (a run's stacks name a few dozen files). */
const PLUGIN_FILES = new Map<string, boolean>();

/** A plugin's file: a file on disk outside the suite's own folders (node: internals and eval'd code are not files). */
export function isPluginFile(file: string | null | undefined): boolean {
  if (!file) return false;
  let known = PLUGIN_FILES.get(file);
  if (known === undefined) {
    const p = pathOf(file);
    known = p !== null && !SUITE_DIRS.some((d) => p.startsWith(d)) && !p.includes(`${sep}node_modules${sep}`);
    PLUGIN_FILES.set(file, known);
  }
  return known;
}

/** One stack frame as a site: `file:line (function)`, the file relative to the working directory when under it. */
function siteText(file: string, line: number, fn: string | null): string {
  const p = pathOf(file) ?? file;
  const cwd = `${process.cwd()}${sep}`;
  return `${p.startsWith(cwd) ? p.slice(cwd.length) : p}:${line}${fn ? ` (${fn})` : ''}`;
}

/** A frame's position in the plugin's own source: through its source map when the module has one (tsx's inline
 *  maps; node keeps them once source maps are enabled), else as V8 gives it (a .js plugin). */
function mapped(file: string, line: number, col: number): { file: string; line: number } {
  try {
    const sm = findSourceMap(file) ?? (file.startsWith('file://') ? undefined : findSourceMap(`file://${file}`));
    const e = sm?.findEntry(line - 1, col - 1) as { originalSource?: string; originalLine?: number } | undefined;
    if (e?.originalSource && e.originalLine !== undefined) return { file: e.originalSource, line: e.originalLine + 1 };
  } catch {
    // no usable map: V8's position
  }
  return { file, line };
}

interface Frame {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly fn: string | null;
}

/** The first frame of the current stack (below `skip`) in a plugin's file, or null. */
const pluginFrame = (skip: (...a: never[]) => unknown): Frame | null => {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  const holder: { stack?: unknown } = {};
  try {
    // The call sites themselves, not the formatted text: no frame is formatted or source-mapped but the one kept.
    Error.prepareStackTrace = (_e, sites) => sites;
    Error.stackTraceLimit = 24;
    Error.captureStackTrace(holder, skip);
    // Only the first frame in a plugin's file is read in full.
    for (const c of holder.stack as NodeJS.CallSite[]) {
      const file = c.getFileName();
      if (isPluginFile(file)) return { file: file!, line: c.getLineNumber() ?? 0, col: c.getColumnNumber() ?? 0, fn: c.getFunctionName() ?? c.getMethodName() ?? null };
    }
    return null;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
};

/** The plugin's call site on the current stack (async callers included, as V8 keeps them), or null when no plugin
 *  code is on it (a bundled port, a check after the step). `skip`: the function whose frame and callers' frames
 *  above it are the capture's own. */
export function callerSite(skip: (...a: never[]) => unknown = callerSite): string | null {
  const f = pluginFrame(skip);
  if (!f) return null;
  const at = mapped(f.file, f.line, f.col);
  return siteText(at.file, at.line, f.fn);
}

/** One line of a formatted stack (`    at fn (file:line:col)`, `    at async fn (file:line:col)`, `    at file:line:col`). */
const FRAME = /^\s*at (?:async )?(?:(.*?) \()?((?:file:\/\/)?[^()]*?):(\d+):(\d+)\)?$/;

/** What a thrown value's stack says of the plugin: the first frame in a plugin's file as a site, and the stack's
 *  frames (as node formatted them: source-mapped when source maps are on), for a PLUGIN-THROW's evidence. */
export function thrownAt(e: unknown): { site: string | null; stack: string[] } {
  const text = e instanceof Error && typeof e.stack === 'string' ? e.stack : '';
  const stack = text.split('\n').filter((l) => FRAME.test(l)).map((l) => l.trim());
  for (const l of stack) {
    const m = FRAME.exec(l)!;
    if (isPluginFile(m[2])) return { site: siteText(m[2]!, Number(m[3]), m[1] ?? null), stack };
  }
  return { site: null, stack };
}

/** A PLUGIN-THROW's text and evidence for a thrown value: `what` (the hook, the deferred work, 'the implementation
 *  threw outside a plugin hook') with the error's message and the plugin's site; the evidence names the site
 *  (`pluginSite`) and keeps the stack's frames. */
export function thrownReport(what: string, e: unknown): { message: string; evidence: Record<string, unknown> } {
  const at = thrownAt(e);
  return {
    message: `${what}: ${e instanceof Error ? e.message : String(e)}${at.site ? ` [at ${at.site}]` : ''}`,
    evidence: { ...(at.site ? { pluginSite: at.site } : {}), ...(at.stack.length ? { stack: at.stack } : {}) },
  };
}

/** The kernel's violation log: a violation reported while a plugin's code is on the stack (a lock assertion, a
 *  heap use, a DMA API check it made a service fail) names the plugin's call site, as a kernel C unit's names its
 *  file:line: `[at my-vfio.ts:43 (acme_dma_buf_move)]` in the message, `pluginSite` in the evidence (a site, so not
 *  part of the behaviour a finding's faithful port is compared on: src/rules/behaviour.ts). The stack is taken
 *  here, when a violation is raised, never on a service's path that does not report, and for a log's first
 *  MAX_SITES violations only. A report that names a site
 *  already (`pluginSite`, a kernel C unit's `cSite`) is left as it is. */
export class PluginSiteLog extends ViolationLog {
  /** Stacks taken so far: a log takes at most MAX_SITES (a stack costs microseconds, and a conversion of a
   *  huge case can report 20,000 violations of one bug; its first ones name the site). */
  private sites = 0;
  static readonly MAX_SITES = 32;

  override report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void {
    if (evidence?.['pluginSite'] !== undefined || evidence?.['cSite'] !== undefined || this.sites >= PluginSiteLog.MAX_SITES) return super.report(rule, message, evidence);
    this.sites++;
    const site = callerSite(PluginSiteLog.prototype.report);
    if (site === null) return super.report(rule, message, evidence);
    super.report(rule, `${message} [at ${site}]`, { ...evidence, pluginSite: site });
  }
}
