import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { convert, parseCase, run } from '../src/commands/convert.ts';
import { UsageError } from '../src/commands/usage.ts';

const load = (f: string) => JSON.parse(readFileSync(`examples/cases/${f}`, 'utf8'));
type Out = { result?: string; route: string; segments: { addr: string; len: string }[]; violations: { rule: string }[] };

describe('dmabuf-conform convert', () => {
  it('v8 on a 9 GiB BUS_ADDR range shows the UINT_MAX findings; mainline on the same case shows only the sg_table leak', () => {
    const v8 = convert(parseCase(load('gpu-to-nic-9g.json'))) as Out;
    expect(v8.route).toBe('BUS_ADDR');
    expect(new Set(v8.violations.map((v) => v.rule))).toEqual(new Set(['LEN-ALIGN', 'ROUTE-BUSADDR', 'DMA-UNWIND']));
    const main = convert(parseCase(load('gpu-to-nic-9g-mainline.json'))) as Out;
    expect(main.violations.map((v) => v.rule)).toEqual(['DMA-UNWIND']);
    expect(main.segments.map((s) => s.len)).toEqual(['0xfffff000', '0xfffff000', '0x40002000', '0x1000']);
  });
  it('two ranges through the IOMMU show the offset-0 links', () => {
    const out = convert(parseCase(load('iommu-two-ranges.json'))) as Out;
    expect(out.route).toBe('THRU_HOST_BRIDGE');
    expect(out.violations.map((v) => v.rule)).toContain('DMA-IOVA');
  });
  it('an invalid request prints the errno and no segments', () => {
    const c = load('gpu-to-nic-9g.json');
    c.request.ranges[0].offset = '0x1';
    expect(convert(parseCase(c))).toMatchObject({ pal: '-EINVAL', segments: [], violations: [] });
  });
  it('bad case files are one clear line', async () => {
    const c = load('gpu-to-nic-9g.json');
    expect(() => parseCase({ ...c, exporter: 'nope' })).toThrow("case.exporter: no device 'nope' in the topology");
    expect(() => parseCase({ ...c, profile: 'v9' })).toThrow('case.profile: expected v8, rfc or converter');
    expect(() => parseCase({ ...c, route: 'FAST' })).toThrow('case.route: expected one of');
    expect(() => parseCase({ ...c, pageSize: 8192 })).toThrow('case.pageSize: expected 4096 or 65536');
    expect(() => parseCase({ ...c, request: { ranges: [{ offset: 'x', length: '0x1000' }] } })).toThrow('case.request.ranges[0].offset: expected a u64');
    expect(() => parseCase({ ...c, topology: { hostBridges: [] } })).toThrow('case.topology');
    expect(() => parseCase([])).toThrow(UsageError);
    await expect(run([])).rejects.toThrow('usage: dmabuf-conform convert <case.json>');
    await expect(run(['missing.json'])).rejects.toThrow('missing.json: no such file');
  });
});
