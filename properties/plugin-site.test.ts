// A violation a plugin's code causes names where in the plugin (src/kernel/callsite.ts): the kernel's checks
// record the first stack frame outside the suite's own code, as the kernel C path records a C file:line, and a
// hook that threw names the frame it threw at. A new user's LOCK-RESV said 'dma_buf_move_notify runs without
// buf0.resv held' and their PLUGIN-THROW 'Cannot read properties of undefined', neither saying where.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LcCmd } from '../models/lifecycle.ts';
import { dmaImporter, iommufdImporter, vfioPci, type ExporterPlugin } from '../src/index.ts';
import { createCmd, runLifecycle } from '../src/harness/lifecycle.ts';
import { lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { callerSite, isPluginFile, thrownAt } from '../src/kernel/callsite.ts';
import { behaviour } from '../src/rules/behaviour.ts';
import { readingOrder } from '../src/report/text.ts';
import nolock from '../test/fixtures/plugin-site-nolock.ts';
import thrower from '../test/fixtures/plugin-site-throw.ts';
import { cliIn } from './cli-helpers.ts';

const cfg = (exporter: ExporterPlugin) => lifecycleConfig(exporter, { dma: dmaImporter, iommufd: iommufdImporter }, 'v8');
const MEM_OFF: LcCmd = { op: 'event', dev: 0, event: 'mem-off' };
const NOLOCK = 'test/fixtures/plugin-site-nolock.ts';
const THROW = 'test/fixtures/plugin-site-throw.ts';

afterEach(() => vi.restoreAllMocks());

describe("a plugin's violation names the plugin's file:line", () => {
  it('suite code is not a plugin; a file outside the package folders is', () => {
    expect(isPluginFile(join(process.cwd(), 'src/kernel/locks.ts'))).toBe(false);
    expect(isPluginFile(join(process.cwd(), 'properties/plugin-site.test.ts'))).toBe(false);
    expect(isPluginFile(`file://${join(process.cwd(), 'dist/src/index.js')}`)).toBe(false);
    expect(isPluginFile('node:internal/process/task_queues')).toBe(false);
    expect(isPluginFile(join(process.cwd(), NOLOCK))).toBe(true);
    expect(isPluginFile('/tmp/newuser/plugins/acme-vfio.ts')).toBe(true);
    // Called from the suite's own code (this test), nothing is a plugin's site.
    expect(callerSite()).toBeNull();
  });

  it("LOCK-RESV raised by the kernel's resv check names the plugin's call of dma_buf_move_notify; a bundled port's names none", async () => {
    const r = await runLifecycle(cfg(nolock), [createCmd(0, 1), MEM_OFF], { keepGoing: true });
    const resv = r.violations.find((v) => v.rule === 'LOCK-RESV')!;
    expect(resv.message).toMatch(new RegExp(`^dma_buf_move_notify runs without buf0\\.resv held \\[at ${NOLOCK.replace(/[./]/g, '\\$&')}:\\d+\\]$`));
    expect(resv.evidence?.['pluginSite']).toBe(/\[at (.*)\]$/.exec(resv.message)![1]);
    // A site is where, not what: the behaviour a finding's faithful port is compared on leaves it out.
    expect(behaviour(resv)).not.toContain('plugin-site');
    // The faithful port's own violations (the seed's close order, O1) name no plugin site.
    const port = await runLifecycle(cfg(vfioPci), [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, { op: 'event', dev: 0, event: 'close' }], { keepGoing: true });
    expect(port.violations.length).toBeGreaterThan(0);
    expect(port.violations.filter((v) => v.evidence?.['pluginSite'] !== undefined || / \[at /.test(v.message))).toEqual([]);
  });

  it('no stack is taken on a step that reports nothing: only a reported violation costs one', async () => {
    const capture = vi.spyOn(Error, 'captureStackTrace');
    const clean = await runLifecycle(cfg(nolock), [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, { op: 'unmap', att: 0 }, { op: 'detach', att: 0 }], { keepGoing: true });
    expect(clean.violations).toEqual([]);
    expect(capture).not.toHaveBeenCalled();
    const bad = await runLifecycle(cfg(nolock), [createCmd(0, 1), MEM_OFF], { keepGoing: true });
    expect(bad.violations.length).toBeGreaterThan(0);
    expect(capture.mock.calls.length).toBe(bad.violations.length);
  });

  it('PLUGIN-THROW names the line of the throw and keeps the stack it threw with', async () => {
    const r = await runLifecycle(cfg(thrower), [createCmd(0, 1), createCmd(0, 1), MEM_OFF], { keepGoing: true });
    const t = r.violations.find((v) => v.rule === 'PLUGIN-THROW')!;
    expect(t.message).toMatch(new RegExp(`^site-throw: event\\(mem-off\\) rejected: Cannot read properties of undefined \\(reading 'x'\\) \\[at ${THROW.replace(/[./]/g, '\\$&')}:9 \\(.*move\\)\\]$`));
    expect(t.evidence).toMatchObject({ plugin: 'site-throw', hook: 'event(mem-off)', pluginSite: /\[at (.*)\]$/.exec(t.message)![1] });
    expect((t.evidence?.['stack'] as string[])[0]).toMatch(/plugin-site-throw\.ts:9:\d+\)$/);
    // A value thrown that is no Error has no stack: the message as before, no site.
    expect(thrownAt('a string')).toEqual({ site: null, stack: [] });
  });
});

describe("a plugin's own failure leads its implementation's violations", () => {
  const rec = (implementation: string, rule: string, steps: number, known = false) => ({ implementation, rule, known, counterexample: { steps: Array.from({ length: steps }, () => ({})), failingStep: steps - 1 } });
  it('PLUGIN-THROW before the lock it left held and the -EIO its hook fell back to, even before a smaller case; known ones after new', () => {
    const vs = [rec('a', 'LOCK-BALANCE', 3), rec('a', 'REV-NOTIFY', 2), rec('a', 'REV-WINDOW', 3), rec('a', 'PLUGIN-THROW', 3), rec('b', 'UAF-OBJ', 1), rec('a', 'PLUGIN-THROW', 1, true)];
    const order = readingOrder(vs as unknown as Parameters<typeof readingOrder>[0]).map((v) => `${v.implementation} ${v.rule}${v.known ? ' known' : ''}`);
    expect(order).toEqual(['a PLUGIN-THROW', 'a REV-NOTIFY', 'a LOCK-BALANCE', 'a REV-WINDOW', 'b UAF-OBJ', 'a PLUGIN-THROW known']);
  });
});

describe('run and replay show the site', () => {
  const cli = cliIn();
  const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-site-'));

  it("a .ts plugin run in a worker (tsx's source maps): the LOCK-RESV line names the plugin's line of the call", async () => {
    const r = await cli('run', '--exporter', NOLOCK, '--out', join(tmp, 'nolock'), '--corpus', join(tmp, 'corpus'), '--runs', '100');
    expect(r.code).toBe(1);
    expect(r.out).toContain(`NEW LOCK-RESV site-nolock: dma_buf_move_notify runs without buf0.resv held [at ${NOLOCK}:9]\n`);
    const report = JSON.parse(readFileSync(join(tmp, 'nolock', 'report.json'), 'utf8')) as { violations: { rule: string; evidence: Record<string, unknown> }[] };
    expect(report.violations.find((v) => v.rule === 'LOCK-RESV')!.evidence['pluginSite']).toBe(`${NOLOCK}:9`);
  }, 60_000);

  it('PLUGIN-THROW leads the NEW lines of its implementation (the throw is the cause), naming the line; replay prints its stack', async () => {
    const r = await cli('run', '--exporter', THROW, '--out', join(tmp, 'throw'), '--corpus', join(tmp, 'corpus-throw'), '--runs', '100');
    expect({ code: r.code, err: r.err.split('\n').filter((l) => !/^(dmabuf-conform run: seed|\[\d+\/\d+\])/.test(l)).join('\n') }).toEqual({ code: 1, err: '' });
    const lines = r.out.split('\n').filter((l) => l.startsWith('NEW '));
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toMatch(new RegExp(`^NEW PLUGIN-THROW site-throw: .* \\[at ${THROW.replace(/[./]/g, '\\$&')}:9 \\(.*\\)\\]$`));
    const id = /--case '([^']*PLUGIN-THROW[^']*)'/.exec(r.out)![1]!;
    const rep = await cli('replay', join(tmp, 'throw', 'report.json'), '--case', id, '--exporter', THROW);
    expect(rep.out).toMatch(/\n {6}the stack it threw with, innermost first:\n {8}at .*plugin-site-throw\.ts:9:\d+\)\n/);
  }, 60_000);
});
