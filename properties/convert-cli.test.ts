// dmabuf-conform convert: the example cases, the case schema's one-line
// errors (file and field), and the exit codes (1 when violations are listed).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli.ts';
import { convert, parseCase, run } from '../src/commands/convert.ts';
import { UsageError } from '../src/commands/usage.ts';
import { cliIn } from './cli-helpers.ts';

const load = (f: string) => JSON.parse(readFileSync(`examples/cases/${f}`, 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-convert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = cliIn();

describe('dmabuf-conform convert', () => {
  it('v8 on a 9 GiB BUS_ADDR range shows the UINT_MAX findings; mainline on the same case shows only the sg_table leak', () => {
    const v8 = convert(parseCase(load('gpu-to-nic-9g.json')));
    expect(v8.route).toBe('BUS_ADDR');
    expect(new Set(v8.violations.map((v) => v.rule))).toEqual(new Set(['LEN-ALIGN', 'ROUTE-BUSADDR', 'DMA-UNWIND']));
    const main = convert(parseCase(load('gpu-to-nic-9g-mainline.json')));
    expect(main.violations.map((v) => v.rule)).toEqual(['DMA-UNWIND']);
    // The output lists no steps: a violation carries no step index (replay's map/free steps are not this output's).
    expect([...v8.violations, ...main.violations].filter((v) => 'step' in v)).toEqual([]);
    expect(main.segments.map((s) => s.len)).toEqual(['0xfffff000', '0xfffff000', '0x40002000', '0x1000']);
  });
  it('two ranges through the IOMMU show the offset-0 links', () => {
    const out = convert(parseCase(load('iommu-two-ranges.json')));
    expect(out.route).toBe('THRU_HOST_BRIDGE');
    expect(out.violations.map((v) => v.rule)).toContain('DMA-IOVA');
  });
  it('an invalid request prints the errno and no segments', () => {
    const c = load('gpu-to-nic-9g.json');
    c.request.ranges[0].offset = '0x1';
    expect(convert(parseCase(c))).toMatchObject({ pal: '-EINVAL', segments: [], violations: [] });
  });

  it('bad case files are one line naming the file and the field', async () => {
    const c = load('gpu-to-nic-9g.json');
    const bad: [unknown, string][] = [
      [{ ...c, exporter: 'nope' }, "c.json: /exporter: no device 'nope' in the topology"],
      [{ ...c, client: 'nope' }, "c.json: /client: no device 'nope' in the topology"],
      [{ ...c, profile: 'v9' }, 'c.json: /profile: must be one of v8, rfc, converter, mainline, got "v9"'],
      [{ ...c, route: 'FAST' }, 'c.json: /route: must be one of UNKNOWN, NOT_SUPPORTED, BUS_ADDR, THRU_HOST_BRIDGE, got "FAST"'],
      [{ ...c, pageSize: 8192 }, 'c.json: /pageSize: must be 4096 or 65536, got 8192'],
      [{ ...c, request: { ranges: [{ offset: 'x', length: '0x1000' }] } }, 'c.json: /request/ranges/0/offset: must match pattern "^(0x[0-9a-fA-F]+|[0-9]+)$", got "x"'],
      [{ ...c, request: { ranges: [{ offset: '0x0', length: '0x10000000000000000' }] } }, 'c.json: /request/ranges/0/length: expected a u64 (a "0x.." or decimal string), got "0x10000000000000000"'],
      [{ ...c, request: { ranges: [{ offset: '0x0' }] } }, 'c.json: /request/ranges/0/length: missing (required)'],
      [{ ...c, request: { ...c.request, regionIndex: -1 } }, 'c.json: /request/regionIndex: must be >= 0, got -1'],
      [{ ...c, topology: { hostBridges: [] } }, 'c.json: /topology/devices: missing (required)'],
      [{ ...c, exporterr: 'gpu0' }, 'c.json: /exporterr: unknown field'],
      [[], 'c.json: /: must be object, got []'],
    ];
    for (const [json, msg] of bad) expect(() => parseCase(json, 'c.json')).toThrow(new UsageError(msg));
    const t = structuredClone(c);
    t.topology.devices[1].acs = { rr: 'yes' };
    expect(() => parseCase(t, 'c.json')).toThrow(/^c\.json: \/topology\/devices\/1\/acs\/rr: expected boolean/);
    await expect(run([])).rejects.toThrow('usage: dmabuf-conform convert <case.json>');
    await expect(run(['missing.json'])).rejects.toThrow('missing.json: no such file');
    await expect(run([tmp])).rejects.toThrow(`${tmp}: is a directory, not a case file`);
  });

  it('exits 1 when it lists violations, 0 when it lists none, 2 on a bad file, each with one line', async () => {
    const listed = await cli('convert', 'examples/cases/gpu-to-nic-9g.json');
    expect(listed.code).toBe(1);
    expect(JSON.parse(listed.out).violations.length).toBeGreaterThan(0);
    const c = load('gpu-to-nic-9g.json');
    c.request.ranges[0].offset = '0x1';
    writeFileSync(join(tmp, 'einval.json'), JSON.stringify(c));
    const none = await cli('convert', join(tmp, 'einval.json'));
    expect([none.code, JSON.parse(none.out).violations]).toEqual([0, []]);
    writeFileSync(join(tmp, 'bad.json'), JSON.stringify({ ...c, profile: 'v9' }));
    const bad = await cli('convert', join(tmp, 'bad.json'));
    expect([bad.code, bad.out, bad.err]).toEqual([2, '', `dmabuf-conform convert: ${join(tmp, 'bad.json')}: /profile: must be one of v8, rfc, converter, mainline, got "v9"\n`]);
    writeFileSync(join(tmp, 'broken.json'), '{"topology": ');
    const broken = await cli('convert', join(tmp, 'broken.json'));
    expect(broken.code).toBe(2);
    expect(broken.err).toMatch(/^dmabuf-conform convert: .*broken\.json: not JSON \(.*\)\n$/);
  });
});
