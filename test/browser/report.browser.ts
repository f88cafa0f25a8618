// npm run test:browser: the HTML report in a real browser (Debian's chromium,
// headless, driven by playwright-core; no browser download). Two pages: the
// fixture report (properties/report-fixtures.ts) and the report of a real
// `dmabuf-conform run` (skip it with DMABUF_BROWSER_REAL=0). On each: no
// console error, no request leaves the page, every violation's pictures
// render (SVG with a nonzero bounding box), and the filters show exactly
// what the JSON report says they should.
//   --screenshot FILE   also save a screenshot of the real report
//   --impl NAME         ... filtered to this implementation
// Prints `browser: N passed, M failed`; exits 1 when a check fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { fixtureReport } from '../../properties/report-fixtures.ts';
import { writeReports } from '../../src/report/index.ts';
import type { Report } from '../../src/report/types.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let passed = 0;
let failed = 0;

function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  process.stdout.write(`${ok ? 'ok' : 'FAIL'} ${name}${ok || !detail ? '' : `: ${detail}`}\n`);
}

function arg(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i < 0 ? undefined : process.argv[i + 1];
}

type Filter = { impl?: string; family?: string; status?: string };

/** The page's sections that are shown now, with their data attributes. */
async function shown(page: Page): Promise<{ impl: string; family: string; status: string }[]> {
  return page.$$eval('section.violation', (els) => els.filter((e) => !(e as HTMLElement).hidden && (e as HTMLElement).offsetParent !== null)
    .map((e) => ({ impl: e.getAttribute('data-impl')!, family: e.getAttribute('data-family')!, status: e.getAttribute('data-status')! })));
}

async function choose(page: Page, filters: Filter): Promise<void> {
  for (const k of ['impl', 'family', 'status'] as const) await page.selectOption(`#f-${k}`, filters[k] ?? '');
}

/** What the filters must show, computed from the JSON report. */
function expected(r: Report, f: Filter): number {
  return r.violations.filter((v) => (!f.impl || v.implementation === f.impl) && (!f.family || v.rule.split('-')[0] === f.family) && (!f.status || (v.known ? 'known' : 'violation') === f.status)).length;
}

async function checkFilters(page: Page, r: Report, label: string): Promise<void> {
  const impls = [...new Set(r.violations.map((v) => v.implementation))];
  const families = [...new Set(r.violations.map((v) => v.rule.split('-')[0]!))];
  const cases: Filter[] = [
    ...impls.slice(0, 6).map((impl) => ({ impl })),
    ...families.map((family) => ({ family })),
    { status: 'violation' }, { status: 'known' }, { status: 'pass' },
    { impl: impls[0]!, family: families.at(-1)!, status: 'known' },
  ];
  for (const f of cases) {
    await choose(page, f);
    const got = await shown(page);
    const want = expected(r, f);
    const counter = await page.textContent('#shown');
    const empty = await page.isVisible('#empty');
    const rowsOk = await page.$$eval('.matrix tbody tr', (rows, impl) => rows.every((tr) => (tr as HTMLElement).hidden === (impl !== '' && tr.getAttribute('data-impl') !== impl)), f.impl ?? '');
    const right = got.length === want && got.every((s) => (!f.impl || s.impl === f.impl) && (!f.family || s.family === f.family) && (!f.status || s.status === f.status));
    check(`${label}: filter ${JSON.stringify(f)} shows ${want} violation(s)`, right && counter === String(want) && empty === (want === 0) && rowsOk, `shown ${got.length}, counter ${counter}, empty note ${empty}, matrix rows ${rowsOk}`);
  }
  await choose(page, {});
  check(`${label}: clearing the filters shows all ${r.violations.length}`, (await shown(page)).length === r.violations.length);
}

async function checkPictures(page: Page, r: Report, label: string): Promise<void> {
  await page.$$eval('section.violation > details', (ds) => ds.forEach((d) => ((d as HTMLDetailsElement).open = true)));
  const pics = await page.$$eval('section.violation', (secs) => secs.map((s) => ({
    id: s.getAttribute('data-id')!,
    svgs: [...s.querySelectorAll('svg')].map((svg) => {
      const b = (svg as SVGSVGElement).getBBox();
      const rect = svg.getBoundingClientRect();
      return { cls: svg.getAttribute('class')!, w: Math.min(b.width, rect.width), h: Math.min(b.height, rect.height) };
    }),
  })));
  const bad = r.violations.flatMap((v) => {
    const p = pics.find((x) => x.id === v.id);
    const want = v.counterexample.topology ? ['topology', 'sequence'] : ['sequence'];
    if (!p) return [`${v.id}: no section`];
    if (p.svgs.map((s) => s.cls).join() !== want.join()) return [`${v.id}: pictures ${p.svgs.map((s) => s.cls).join()} (want ${want.join()})`];
    return p.svgs.filter((s) => !(s.w > 0 && s.h > 0)).map((s) => `${v.id}: empty ${s.cls} (${s.w}x${s.h})`);
  });
  check(`${label}: every violation's pictures render (${pics.length} sections)`, bad.length === 0, bad.slice(0, 3).join('; '));
}

async function checkPage(ctx: BrowserContext, dir: string, label: string): Promise<Page> {
  const r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(join(dir, 'report.html')).href);
  await checkFilters(page, r, label);
  await checkPictures(page, r, label);
  check(`${label}: no console error`, errors.length === 0, errors.slice(0, 3).join('; '));
  return page;
}

function realReport(root: string): string | null {
  const out = join(root, 'real', 'latest');
  const run = spawnSync(process.execPath, ['bin/dmabuf-conform.mjs', 'run', '--out', out, '--quiet'], { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8', timeout: 300_000 });
  const ok = existsSync(join(out, 'report.html'));
  check('a real `dmabuf-conform run` writes report.html', ok, `exit ${run.status}: ${(run.stderr ?? '').trim().split('\n').at(-1) ?? ''}`);
  return ok ? out : null;
}

async function main(): Promise<number> {
  if (!existsSync(CHROMIUM)) {
    check(`chromium at ${CHROMIUM}`, false, 'not installed (apt-get install -y chromium)');
    return 1;
  }
  const root = mkdtempSync(join(tmpdir(), 'dmabuf-browser-'));
  const ctx = await chromium.launchPersistentContext(join(root, 'profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
  const offsite: string[] = [];
  await ctx.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : (offsite.push(route.request().url()), route.abort())));
  try {
    const fixture = join(root, 'fixture');
    writeReports(fixtureReport(), fixture);
    await checkPage(ctx, fixture, 'fixture report');
    const real = process.env.DMABUF_BROWSER_REAL === '0' ? null : realReport(root);
    if (real) {
      const page = await checkPage(ctx, real, 'real report');
      const shot = arg('--screenshot');
      if (shot) {
        await choose(page, { impl: arg('--impl') ?? '' });
        await page.screenshot({ path: shot, fullPage: true });
        process.stdout.write(`screenshot: ${shot}\n`);
      }
    }
    check('no request left the page', offsite.length === 0, offsite.slice(0, 3).join(' '));
  } finally {
    await ctx.close();
    rmSync(root, { recursive: true, force: true });
  }
  return failed > 0 ? 1 : 0;
}

main()
  .catch((e: unknown) => {
    check('the browser check runs', false, (e as Error).message.split('\n')[0]);
    return 1;
  })
  .then((code) => {
    process.stdout.write(`browser: ${passed} passed, ${failed} failed\n`);
    process.exitCode = code;
  });
