// The real dumps of ../shared/topologies/lspci/, each imported and routed,
// with the answers worked by hand from the kernel's rule (drivers/pci/p2pdma.c:
// calc_map_type_and_dist(), cpu_supports_p2pdma(), pci_host_bridge_dev() and
// pci_p2pdma_whitelist[]); the reasoning is written beside each expectation.
import { describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostBridgeAllowList } from '../models/pci/allowlist.ts';
import type { Cpu, Topology } from '../models/pci/topology.ts';
import { routeAnswer, run as runRoute, distanceMany } from '../src/commands/route.ts';
import { main } from '../src/cli.ts';
import { importLspci } from '../src/topology/lspci.ts';
import { cpuFromCpuinfo, parseCpuOption } from '../src/topology/cpu.ts';
import { buildMatrix, matrixDevices, matrixText } from '../src/topology/matrix.ts';
import { matrixSvg } from '../src/topology/matrix-svg.ts';
import { matrixHtml } from '../src/commands/matrix.ts';
import { UsageError } from '../src/commands/usage.ts';
import { HAVE_LSPCI, LSPCI, NEEDS_LSPCI } from './shared.ts';

/** The dumps are read from the shared folder beside the checkout; a clone without it skips what needs them. */
const DIR = LSPCI;
const HAVE_DUMPS = HAVE_LSPCI;
const dump = (f: string) => readFileSync(`${DIR}/${f}`, 'utf8');
const ZEN4: Cpu = { vendor: 'amd', family: 0x19 };
const INTEL: Cpu = { vendor: 'intel', family: 6 };

function imported(f: string, cpu?: Cpu): Topology {
  const r = importLspci(dump(f), cpu);
  if (!r.ok) throw new Error(r.error);
  return r.topology;
}

const cases = (a: ReturnType<typeof routeAnswer>) => (a.cases ?? []).map((c) => [c.when.join(' & '), c.mapType]);

describe.skipIf(!HAVE_DUMPS)(`amd-raphael-desktop.tv.txt (lspci -tv, root ports 01.1/01.2 with -vvv) ${NEEDS_LSPCI}`, () => {
  const f = 'amd-raphael-desktop.tv.txt';

  it('imports the tree: GPU behind its internal switch, NICs behind the small switch, root ports ACS known', () => {
    const t = imported(f, ZEN4);
    const dev = (id: string) => t.devices.find((d) => d.id === id)!;
    expect(dev('0000:03:00.0')).toMatchObject({ parent: '0000:02:00.0', kind: 'endpoint' });
    expect(dev('0000:02:00.0')).toMatchObject({ parent: '0000:01:00.0', kind: 'switch-downstream' });
    expect(dev('0000:01:00.0')).toMatchObject({ parent: '0000:00:01.1', kind: 'switch-upstream' });
    expect(dev('0000:09:00.1')).toMatchObject({ parent: '0000:07:02.0' });
    // ACSCtl: SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
    expect(dev('0000:00:01.1').acs).toEqual({ sv: true, tb: false, rr: true, cr: true, uf: true, ec: false, dt: false });
    // The tree has names only: every other port's ACS is unknown, the CPU is given.
    expect(t.unknown!.some((u) => u.fact === 'acs' && u.device === '0000:02:00.0')).toBe(true);
    expect(t.unknown!.some((u) => u.fact === 'cpu')).toBe(false);
  });

  it('GPU 03:00.0 -> NVMe 04:00.0: different root ports, no common bridge; a Zen 4 CPU allows the host bridge', () => {
    // chains: 03:00.0 02:00.0 01:00.0 00:01.1 | 04:00.0 00:01.2; root ports sit on the root bus, so
    // pci_upstream_bridge() ends there: no common bridge, distance 4 + 2 = 6, cpu_supports_p2pdma() (0x19 >= 0x17).
    const a = routeAnswer(imported(f, ZEN4), '03:00.0', '04:00.0');
    expect(a).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', distance: 6, blockedBy: [] });
    expect(a.reason).toContain('cpu_supports_p2pdma');
  });

  it('without --cpu the same pair is named as depending on the CPU only (the AMD root complex has no allow-list entry)', () => {
    // 00:00.0 is "Advanced Micro Devices ... Root Complex": vendor 1022, and the table has no AMD entry at all,
    // so the allow list says no whatever its device ID; only the CPU decides.
    const a = routeAnswer(imported(f), '03:00.0', '04:00.0');
    expect(a.mapType).toBe('UNKNOWN');
    expect(a.missing).toHaveLength(1);
    expect(cases(a)).toEqual([['CPU: AMD family 0x17 (Zen) or newer', 'THRU_HOST_BRIDGE'], ['CPU: any other', 'NOT_SUPPORTED']]);
  });

  it('GPU 03:00.0 -> its HDMI audio 03:00.1: common bridge 02:00.0, distance 2, BUS_ADDR unless an unseen ACS port redirects', () => {
    // Asked ports: 03:00.0 (provider), 02:00.0 (common, inclusive), 03:00.1 (client side): none has ACSCtl in the dump.
    const a = routeAnswer(imported(f, ZEN4), '03:00.0', '0000:03:00.1');
    expect(a).toMatchObject({ mapType: 'UNKNOWN', distance: 2 });
    expect(cases(a).map(([, m]) => m)).toEqual(['BUS_ADDR', 'THRU_HOST_BRIDGE']);
  });

  it('NIC 09:00.0 -> MosChip 08:00.0: common upstream port 06:00.0, distance 4', () => {
    const a = routeAnswer(imported(f, ZEN4), '09:00.0', '08:00.0');
    expect(a.distance).toBe(4);
    expect(a.path).toEqual(['0000:09:00.0', '0000:07:02.0', '0000:06:00.0', '0000:07:01.0', '0000:08:00.0']);
  });

  it('a BDF that is not in the dump names the nearest ones', () => {
    expect(() => routeAnswer(imported(f, ZEN4), '03:00.7', '04:00.0')).toThrow("no device '03:00.7' in the topology; nearest: 03:00.3, 03:00.2, 03:00.1");
  });
});

describe.skipIf(!HAVE_DUMPS)(`intel-alderlake-b760.groups.txt (IOMMU group listing with path BDFs, -nn IDs, ACSCtl) ${NEEDS_LSPCI}`, () => {
  const f = 'intel-alderlake-b760.groups.txt';

  it('the path BDFs give the tree; root bus 00 is only partly listed, so its root device is unknown', () => {
    const t = imported(f);
    expect(t.devices.find((d) => d.id === '0000:0a:00.0')).toMatchObject({ parent: '0000:09:01.0', pciId: '10ec:8168' });
    expect(t.devices.find((d) => d.id === '0000:08:00.0')).toMatchObject({ parent: '0000:00:1c.3', kind: 'switch-upstream' });
    // 1c.0: full -vvv without an ACS capability: known, no ACS.
    expect(t.devices.find((d) => d.id === '0000:00:1c.0')!.acs).toBeUndefined();
    expect(t.unknown!.some((u) => u.fact === 'acs' && u.device === '0000:00:1c.0')).toBe(false);
    expect(t.unknown!.some((u) => u.fact === 'root-device')).toBe(true);
  });

  it('NIC 0a:00.0 -> NIC 0c:00.0: downstream ports 09:01.0 and 09:03.0 redirect (RR CR), so the host bridge decides', () => {
    // common = 08:00.0 (Pericom upstream port), distance 2 + 2 = 4; 09:01.0 and 09:03.0 have ReqRedir+ CmpltRedir+.
    const zen = routeAnswer(imported(f, ZEN4), '0a:00.0', '0c:00.0');
    expect(zen).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', distance: 4 });
    expect(zen.blockedBy).toEqual(expect.arrayContaining(['0000:09:01.0', '0000:09:03.0']));
    // An Intel CPU: the root device (first on bus 00) is not in the listing: allowed iff it is on the list.
    const intel = routeAnswer(imported(f, INTEL), '0a:00.0', '0c:00.0');
    expect(intel.mapType).toBe('UNKNOWN');
    expect(cases(intel).map(([, m]) => m)).toEqual(['THRU_HOST_BRIDGE', 'THRU_HOST_BRIDGE', 'NOT_SUPPORTED']);
    expect(intel.missing![0]).toContain('does not list all of root bus 0000:00');
  });

  it('divergence routing agrees here: RR/CR redirect at the divergence ports whatever the target (EC clear)', () => {
    const t = imported(f, ZEN4);
    expect(routeAnswer(t, '0a:00.0', '0c:00.0', 'divergence')).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', distance: 4 });
  });
});

describe.skipIf(!HAVE_DUMPS)(`intel-alderlake-b760.tv.txt (lspci -tv and a grep of the root ports ACS lines) ${NEEDS_LSPCI}`, () => {
  const f = 'intel-alderlake-b760.tv.txt';

  it('NVMe 03:00.0 -> NVMe 04:00.0: root ports 06.0 and 1a.0, no common bridge; allowed iff 00:00.0 is on the list', () => {
    // 00:00.0 "Intel Corporation 12th Gen Core Processor Host Bridge": Intel, device ID not printed (no -nn).
    // Intel has entries, so the verdict needs the ID: the answer is given for each possibility.
    const a = routeAnswer(imported(f, INTEL), '03:00.0', '04:00.0');
    expect(a).toMatchObject({ mapType: 'UNKNOWN', distance: 4 });
    expect(cases(a)).toEqual([
      ["pci0000:00's root device is on the allow list (any host bridge)", 'THRU_HOST_BRIDGE'],
      ["pci0000:00's root device is on the allow list (same host bridge only)", 'THRU_HOST_BRIDGE'],
      ["pci0000:00's root device is not on the allow list", 'NOT_SUPPORTED'],
    ]);
  });

  it('the grep lines show the ACS capability of 1c.1-1c.3 but not its control: unknown, said why', () => {
    const t = imported(f);
    const u = t.unknown!.find((x) => x.fact === 'acs' && x.device === '0000:00:1c.1');
    expect(u?.why).toContain('ACSCtl not shown');
  });
});

describe.skipIf(!HAVE_DUMPS)(`intel-icelake-sp-rootbus16.vs.txt (lspci -vs of four functions on root bus 16) ${NEEDS_LSPCI}`, () => {
  const f = 'intel-icelake-sp-rootbus16.vs.txt';

  it('the kernel looks up 16:00.0 (devfn 00.0, 8086:09a2, on the list), not the "Host bridge" 16:00.4 (8086:0998)', () => {
    const t = imported(f);
    const hb = t.hostBridges[0]!;
    expect(hb).toMatchObject({ id: 'pci0000:16', allowList: 'any' });
    const d = hostBridgeAllowList(t, hb);
    expect(d.root?.id).toBe('0000:16:00.0');
    expect(d.entry).toMatchObject({ vendor: 0x8086, device: 0x09a2, sameHostBridge: false });
  });

  it('16:00.1 -> 16:00.2: both RCiEPs on the root bus, no common bridge, distance 2, allowed by the list whatever the CPU', () => {
    const a = routeAnswer(imported(f), '16:00.1', '16:00.2');
    expect(a).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', distance: 2 });
    expect(a.reason).toContain('8086:09a2');
  });
});

describe.skipIf(!HAVE_DUMPS)(`qemu-i440fx-two-nvme.txt (plain lspci and the p2pmem sysfs files) ${NEEDS_LSPCI}`, () => {
  const f = 'qemu-i440fx-two-nvme.txt';

  it('00:04.0 publishes p2pmem; both NVMe sit on the root bus: host bridge, distance 2, CPU and 440FX ID not stated', () => {
    const t = imported(f);
    expect(t.devices.find((d) => d.id === '0000:00:04.0')!.p2pdma).toBe(true);
    const a = routeAnswer(t, '00:04.0', '00:05.0');
    expect(a).toMatchObject({ mapType: 'UNKNOWN', distance: 2 });
    // Zen CPU: allowed (whatever the list says: 3 cases); other CPU: allowed iff 00:00.0 (Intel, ID not shown) is on the list.
    expect(cases(a).map(([, m]) => m).sort()).toEqual(['NOT_SUPPORTED', ...Array(5).fill('THRU_HOST_BRIDGE')]);
    expect(cases(a).find(([, m]) => m === 'NOT_SUPPORTED')![0]).toBe("CPU: any other & pci0000:00's root device is not on the allow list");
    expect(a.missing).toHaveLength(2);
  });

  it('pci_p2pdma_distance_many(04.0, [05.0, 04.0]) is 2 + 0 when the CPU allows it, -1 when nothing does', () => {
    const zen = distanceMany(imported(f, ZEN4), '00:04.0', ['00:05.0', '00:04.0'], 'classic');
    expect(zen.distance).toBe(2);
    const other = distanceMany(imported(f, INTEL), '00:04.0', ['00:05.0'], 'classic');
    expect(other.distance).toBeNull();
    expect((other.cases ?? []).map((c) => c.distance).sort()).toEqual([-1, 2, 2]);
  });
});

describe('other posted formats and bad input', () => {
  it('mail quoting, a -tvnn tree with IDs and a Google root complex: the any-device entry allows it', () => {
    const text = ['> -[0000:00]-+-00.0  Google, Inc. Device [1ae0:0042]', '>            +-01.0-[01]----00.0  NVIDIA Corporation GH100 [10de:2330]', '>            \\-02.0-[02]----00.0  Mellanox Technologies MT2910 [15b3:1021]'].join('\n');
    const r = importLspci(text, INTEL);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.topology.hostBridges[0]!.allowList).toBe('any');
    const a = routeAnswer(r.topology, '01:00.0', '02:00.0');
    // No ACS facts matter without a common bridge; Google's PCI_ANY_ID entry allows any host bridge pair.
    expect(a).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', distance: 4 });
  });

  it('lspci -vvv without root: <access denied> makes ACS unknown, with the reason', () => {
    const text = '00:01.0 PCI bridge [0604]: Intel Corporation Device [8086:2031]\n\tBus: primary=00, secondary=01, subordinate=01, sec-latency=0\n\tCapabilities: <access denied>\n01:00.0 3D controller [0302]: NVIDIA Corporation Device [10de:2330]\n\tCapabilities: <access denied>\n';
    const r = importLspci(text, INTEL);
    expect(r.ok && r.topology.unknown!.find((u) => u.fact === 'acs')?.why).toContain('access denied');
  });

  const bad: [string, string, string][] = [
    ['no device lines', 'hello\nworld\n', 'no PCI device lines'],
    ['a truncated dump (bus 0a hangs below nothing)', '0a:00.0 Ethernet controller [0200]: Realtek [10ec:8168]\n', 'bus 0000:0a (0a:00.0) hangs below no bridge in the dump'],
    ['a tree whose bridge is missing in between', '05:00.0 PCI bridge [0604]: X [1234:5678]\n\tBus: primary=05, secondary=06, subordinate=08\n07:00.0 Ethernet controller [0200]: Y [10ec:8168]\n', 'hangs below no bridge'],
  ];
  for (const [what, text, message] of bad) {
    it(`bad input is one line: ${what}`, () => {
      const r = importLspci(text);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toContain(message);
        expect(r.error).not.toContain('\n');
      }
    });
  }

  it.skipIf(!HAVE_DUMPS)(`through the CLI: exit 2 and one line on stderr, never a stack trace ${NEEDS_LSPCI}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lspci-'));
    writeFileSync(join(dir, 'cut.txt'), '0a:00.0 Ethernet controller [0200]: Realtek [10ec:8168]\n');
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['route', join(dir, 'cut.txt'), '0a:00.0', '0a:00.0'])).toBe(2);
      expect(await main(['route', `${DIR}/qemu-i440fx-two-nvme.txt`, '00:04.0', '00:09.0', '--cpu', 'amd:0x19'])).toBe(2);
      expect(await main(['matrix', `${DIR}/qemu-i440fx-two-nvme.txt`, '--cpu', 'amd'])).toBe(2);
      const lines = err.mock.calls.map((c) => String(c[0]));
      expect(lines).toHaveLength(3);
      expect(lines[1]).toBe("dmabuf-conform route: no device '00:09.0' in the topology; nearest: 00:05.0, 00:04.0, 00:03.0\n");
      expect(lines[2]).toContain('give the AMD family too');
      for (const l of lines) expect(l.trim()).not.toContain('\n');
    } finally {
      err.mockRestore();
    }
    await expect(runRoute([`${DIR}/qemu-i440fx-two-nvme.txt`, '00:04.0'])).rejects.toThrow(UsageError);
  });

  it('the CPU from --cpu or /proc/cpuinfo text', () => {
    expect(parseCpuOption('amd:0x19')).toEqual({ ok: true, cpu: ZEN4 });
    expect(parseCpuOption('intel')).toEqual({ ok: true, cpu: { vendor: 'intel', family: 0 } });
    expect(cpuFromCpuinfo('processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n')).toEqual({ ok: true, cpu: ZEN4 });
    expect(cpuFromCpuinfo('processor : 0\n')).toMatchObject({ ok: false });
  });
});

describe.skipIf(!HAVE_DUMPS)(`matrix on every dump ${NEEDS_LSPCI}`, () => {
  for (const f of ['amd-raphael-desktop.tv.txt', 'intel-alderlake-b760.groups.txt', 'intel-alderlake-b760.tv.txt', 'intel-icelake-sp-rootbus16.vs.txt', 'qemu-i440fx-two-nvme.txt']) {
    it(`${f}: text, JSON and SVG agree with route on every pair`, () => {
      const t = imported(f, ZEN4);
      const devs = matrixDevices(t).slice(0, 6);
      const m = buildMatrix(t, devs, 'classic');
      for (const row of m.cells) {
        for (const c of row) {
          const a = routeAnswer(t, c.provider, c.client);
          expect(a.mapType === 'UNKNOWN' ? (a.cases ?? []).map((x) => x.mapType).filter((x, i, all) => all.indexOf(x) === i) : [a.mapType]).toEqual(c.mapTypes);
        }
      }
      expect(matrixText(m)).toContain('Legend');
      const svg = matrixSvg(m);
      expect(svg.startsWith('<svg')).toBe(true);
      expect((svg.match(/class="cell"/g) ?? []).length).toBe(devs.length ** 2);
      const html = matrixHtml(f, svg, matrixText(m), ['ACS unknown <here>']);
      expect(html).toContain(svg);
      expect(html).toContain('Legend');
      expect(html).toContain('ACS unknown &lt;here&gt;');
    });
  }
});
