// A truncated lspci dump is refused in one line naming the line (exit 2), as README says: a `lspci -tv`
// cut mid-line was accepted and gave a partial matrix (exit 0). What the text shows: a last line without
// its newline that stops in a cut token, a bracket left open, a device line without its fields, a tree
// whose '+-' branch never gets its last entry ('\-').
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliIn } from './cli-helpers.ts';
import { importLspci } from '../src/topology/lspci.ts';
import { truncation } from '../src/topology/lspci-parse.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-trunc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cli = cliIn();

// A lspci -tv tree written for this test (a root complex, an NVMe, a switch with a two-port NIC, a GPU).
const TREE = [
  '-[0000:00]-+-00.0  Advanced Micro Devices, Inc. [AMD] Root Complex',
  '           +-01.1-[01]----00.0  Samsung Electronics Co Ltd NVMe SSD Controller',
  '           +-02.2-[02-03]----00.0-[03]--+-00.0  Intel Corporation Ethernet Controller I225-V',
  '           |                            \\-00.1  Intel Corporation Ethernet Controller I225-V',
  '           \\-08.1-[04]----00.0  NVIDIA Corporation GA102GL [RTX A6000]',
];
const LIST = ['00:00.0 Host bridge: Intel Corporation Device 4660', '00:03.0 Ethernet controller: Intel Corporation Ethernet Controller I225-V', '00:04.0 VGA compatible controller: NVIDIA Corporation GA102GL [RTX A6000]'];

describe('a truncated lspci dump', () => {
  it('a whole dump, with or without its last newline, is read', () => {
    for (const text of [`${TREE.join('\n')}\n`, TREE.join('\n'), `${LIST.join('\n')}\n`, LIST.join('\n'), '-[0000:00]-+-00.0\n           \\-01.0-[01]--\n']) {
      expect(truncation(text)).toBeNull();
      expect(importLspci(text).ok).toBe(true);
    }
  });

  it('is refused naming the line and what is cut', () => {
    const cases: [string, string][] = [
      // Cut after a whole line: the root's '+-' branch never gets its '\-'.
      [`${TREE.slice(0, 4).join('\n')}\n`, "line 4: the lspci -t tree ends with a branch still open (line 1, column 12: '+-' announces another device and no '\\-' closes it): the dump is truncated"],
      // ... and the switch's, followed by another section.
      [`${TREE.slice(0, 3).join('\n')}\n\n${LIST[0]}\n`, "line 3: the lspci -t tree ends with a branch still open (line 1, column 12: '+-' announces another device and no '\\-' closes it): the dump is truncated"],
      // Cut mid-line, no newline: tree drawing only; a connector; an open bus bracket.
      [`${TREE.slice(0, 3).join('\n')}\n           |                            `, "line 4: the last line stops mid-tree ('|', no newline): the dump is truncated"],
      [`${TREE.slice(0, 4).join('\n')}\n           \\-08.1-[04]--`, null as unknown as string],
      [`${TREE.slice(0, 4).join('\n')}\n           \\-08.1-[0`, "line 5: a tree line with an unclosed '[': the dump is truncated"],
      [`${TREE.slice(0, 4).join('\n')}\n           \\-08.1-[04]----00.0  NVIDIA Corporation GA102GL [RTX A`, "line 5: a tree line with an unclosed '[': the dump is truncated"],
      // A listing: a device line without its fields, an unclosed ID, a cut BDF, a cut class.
      [`${LIST[0]}\n03:00.0 \n${LIST[2]}\n`, 'line 2: the device line 03:00.0 has no class or name after its BDF: the dump is truncated'],
      [`${LIST[0]}\n03:00.0 Ethernet controller [0200]: Intel Corporation Ethernet Controller I225-V [8086:15f\n`, "line 2: the device line of 03:00.0 has an unclosed '[': the dump is truncated"],
      [`${LIST[0]}\n03:0`, "line 2: the last line stops at '03:0' (a cut BDF, no newline): the dump is truncated"],
      [`${LIST[0]}\n03:00.0 Ethernet contr`, "line 2: the last line stops inside the device line of 03:00.0 (no 'class: name', no newline): the dump is truncated"],
    ];
    for (const [text, why] of cases) {
      if (why === null) {
        // An empty bridge ends its line in '--' in a whole dump too: not a cut token.
        expect(truncation(text)).toBeNull();
        continue;
      }
      expect(truncation(text)).toBe(why);
      expect(importLspci(text)).toEqual({ ok: false, error: why });
    }
  });

  it('through matrix and route: exit 2, one line naming the file and the line', async () => {
    const file = join(tmp, 'trunc.txt');
    writeFileSync(file, `${TREE.slice(0, 3).join('\n')}\n           |                            `);
    const m = await cli('matrix', file);
    expect([m.code, m.out, m.err]).toEqual([2, '', `dmabuf-conform matrix: ${file}: line 4: the last line stops mid-tree ('|', no newline): the dump is truncated\n`]);
    const r = await cli('route', file, '01:00.0', '03:00.0');
    expect([r.code, r.err.split('\n').length]).toEqual([2, 2]);
    expect(r.err).toContain(`${file}: line 4: the last line stops mid-tree`);
  });
});
