// An edited case that names what does not exist (a device index past the case's devices, a dma-buf or an
// attachment no earlier step made) is one line naming the field, exit 2: it gave "Cannot read properties of
// undefined (reading 'open')" (the model's device) or "(reading 'userFd')" (its dma-buf).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliIn } from './cli-helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-refs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cli = cliIn();
const L2 = 'examples/findings/L2-unrevoke-notifies-iommufd.json';

/** L2's case with its commands edited. */
function edited(name: string, edit: (cmds: Record<string, unknown>[]) => void): string {
  const c = JSON.parse(readFileSync(L2, 'utf8')) as { input: { input: { cmds: Record<string, unknown>[] } } };
  edit(c.input.input.cmds);
  const f = join(tmp, name);
  writeFileSync(f, JSON.stringify(c));
  return f;
}

describe('a case that names what does not exist', () => {
  it('is one line naming the command and the field, never a JavaScript error', async () => {
    const cases: [string, (cmds: Record<string, unknown>[]) => void, string][] = [
      ['dev.json', (cmds) => void (cmds[0]!.dev = 9), '/cmds/0/dev: dev9 is not a device of the case (the case has dev0, dev1)'],
      ['event-dev.json', (cmds) => void (cmds[2]!.dev = 2), '/cmds/2/dev: dev2 is not a device of the case (the case has dev0, dev1)'],
      ['buf.json', (cmds) => void (cmds[1]!.buf = 5), '/cmds/1/buf: buf5 is not made before this step (the case has buf0)'],
      ['att.json', (cmds) => void cmds.splice(2, 0, { op: 'map', att: 3 }), '/cmds/2/att: att3 is not made before this step (the case has att0)'],
      ['hot-reset.json', (cmds) => void cmds.push({ op: 'hot-reset', devs: [0, 7] }), '/cmds/4/devs/1: dev7 is not a device of the case (the case has dev0, dev1)'],
    ];
    for (const [name, edit, why] of cases) {
      const r = await cli('replay', edited(name, edit));
      expect([r.code, r.out, r.err]).toEqual([2, '', `dmabuf-conform replay: ${join(tmp, name)}: /input: cannot be replayed (${why})\n`]);
    }
    // The case as recorded still replays (exit 0: its rule broke again).
    expect((await cli('replay', L2)).code).toBe(0);
  });
});
