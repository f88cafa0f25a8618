// The worker's heartbeat (src/harness/heartbeat.ts) counts the cases its searches run, beside the beats the
// watchdog reads: the runner's progress shows them while a long round runs (Progress.searching).
import { describe, expect, it } from 'vitest';
import { progressPrinter } from '../src/commands/run.ts';
import { beat, caseRan, heartbeatBuffer, installHeartbeat, readHeartbeat } from '../src/harness/heartbeat.ts';
import type { Progress } from '../src/harness/runner.ts';

describe('heartbeat', () => {
  it('caseRan is a beat and one more case; a labelled beat keeps the count of cases', () => {
    const buf = heartbeatBuffer();
    installHeartbeat(buf);
    expect(readHeartbeat(buf)).toEqual({ count: 0, label: '', cases: 0 });
    caseRan();
    caseRan();
    beat('c:v8:vfio-pci', 'request 17');
    caseRan();
    expect(readHeartbeat(buf)).toEqual({ count: 4, label: 'c:v8:vfio-pci: request 17', cases: 3 });
  });

  it('a running round\'s progress line says how many cases it has run and for how long', () => {
    const p: Progress = { target: 'c:v8:vfio-pci', profile: 'v8', done: 0, total: 1, runs: 0, violations: 0, newOnes: 0, searching: { cases: 457, ms: 10_200 } };
    const pipe = { isTTY: false, text: '', write(s: string) { this.text += s; } };
    progressPrinter(false, pipe, 0)(p);
    expect(pipe.text).toBe('[0/1] c:v8:vfio-pci (v8) — searching: 457 cases in 10 s, 0 runs so far, 0 violation(s): 0 known, 0 new\n');
  });
});
