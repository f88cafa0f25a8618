// The C file:line of every violation a C unit's run raises. A violation a
// kernel service raises during a call of the C names that call's site; one a
// checker raises after the C returned (a leak found after the step, a table
// compared with the model, a lifecycle check after the command: move_notify
// counts, a dma-buf left revoked) names the last call the C made across the
// bridge before it, and says so ('last kernel call before the check'): the
// place the C had reached when the rule broke, not the line of the bug. Both
// go in evidence.cSite and in the message.
// Since that last call is often not the buggy line (a wrong errno names the
// unwind's kfree), a check after the step also names what the C's last entry
// point returned (evidence.cReturned, and the message) and the trail of its
// last crossings of the bridge (evidence.cTrail, printed by replay).
import type { RuleId } from '../rules/registry.ts';
import type { ViolationLog } from '../rules/violation.ts';

/** Where the C of one log is: how many of its calls are being served, and the last one served. */
export interface CSiteTracker {
  serving: number;
  last: string | null;
  /** The C's last crossings of the bridge, oldest first (at most TRAIL): an entry into the C
   *  (`-> fn (file:line)`), a service it called (`file:line (func): kfree`), a return (`<- fn returned -EINVAL`). */
  trail: string[];
  /** The last entry point of the C that returned, and what: `vfio_pci_core_feature_dma_buf returned -EINVAL`
   *  (or `... did not return (the unit crashed: heap-use-after-free)`), and the step it returned in: a check
   *  names it only in that step (a step the C did not enter names no entry's result). */
  returned: string | null;
  returnedStep: number | undefined;
  /** The log's current step. */
  readonly step: () => number | undefined;
  /** What the log was told after the unit crashed (crashedIn), one `RULE: message` each: the crash's consequences,
   *  kept in the crash's evidence (`afterCrash`) instead of the log. Null before a crash. */
  afterCrash: string[] | null;
}

/** How many crossings evidence.cTrail keeps. */
export const TRAIL = 10;

function note(t: CSiteTracker, line: string): void {
  t.trail.push(line);
  if (t.trail.length > TRAIL) t.trail.shift();
}

/** The C is entered at `fn` (defined at `at`, `file:line (fn)`): until it makes a call, a check after the step names it. */
export function enteredC(t: CSiteTracker, fn: string, at: string | undefined): void {
  if (at) t.last = at;
  note(t, `-> ${fn}${at ? ` (${at.replace(/ \(\w+\)$/, '')})` : ''}`);
}

/** The entry `fn` returned `what` (`-EINVAL`, `fd 3`, `an sg_table`, `` for void). */
export function returnedC(t: CSiteTracker, fn: string, what: string): void {
  t.returned = `${fn} returned${what ? ` ${what}` : ''}`;
  t.returnedStep = t.step();
  note(t, `<- ${t.returned}`);
}

const DID_NOT_RETURN = ' did not return (the unit crashed: ';

/** The entry `fn` never returned: the unit crashed (`kind`: heap-use-after-free, SEGV, ...). */
export function crashedC(t: CSiteTracker, fn: string, kind: string): void {
  t.returned = `${fn}${DID_NOT_RETURN}${kind})`;
  t.returnedStep = t.step();
  note(t, `<- ${t.returned}`);
}

/** The unit crashed: `report` reports its crash (a sanitizer's report, the unit's exit); whatever the log is told
 *  after it, in this step or a later one, is the crash's consequence and goes in the crash's evidence
 *  (`afterCrash`, one `RULE: message` each), not in the log. A sanitizer report ends the kernel under test as a
 *  corrupting finding does (lifecycle-prop.ts): what runs after it is not judged. */
export function crashedIn(log: ViolationLog, report: (evidence: Record<string, unknown>) => void): void {
  const t = trackCSites(log);
  if (t.afterCrash) return;
  const consequences: string[] = [];
  report({ afterCrash: consequences });
  t.afterCrash = consequences;
}

/** A check after the step whose C entry never returned (evidence.cReturned): what the harness made of the call
 *  (a result of -EIO, the state the C left) follows from the crash, which the unit's crash report is. */
export const afterCrash = (evidence: Readonly<Record<string, unknown>> | undefined): boolean => {
  const r = evidence?.['cReturned'];
  return typeof r === 'string' && r.includes(DID_NOT_RETURN);
};

/** How a check after the step names the C's place: not the line of the bug, but the last call the C made into the
 *  kernel (a service of the shim) before the harness checked (a move_notify count, a dma-buf left revoked, a
 *  result compared with the model). A violation a service raises during the call names that call's line alone. */
export const AFTER_THE_STEP = 'found by a check after the step; last kernel call before the check: ';

const trackers = new WeakMap<ViolationLog, CSiteTracker>();

/**
 * The tracker of `log`; the first time, every later report() on it made while
 * no C call is being served, without a C site, gets the site of the C's last
 * call (`[found by a check after the step; last kernel call before the check: file:line (func)]`, evidence.cSite and
 * cSiteIs 'last-call'). Reports during a call are named by that call's site
 * where the call is served (atSite, the exporter's annotate); reports made
 * before the C made any call stay as they are.
 */
export function trackCSites(log: ViolationLog): CSiteTracker {
  const known = trackers.get(log);
  if (known) return known;
  const t: CSiteTracker = { serving: 0, last: null, trail: [], returned: null, returnedStep: undefined, step: () => log.step, afterCrash: null };
  trackers.set(log, t);
  const report = log.report.bind(log);
  log.report = (rule: RuleId, message: string, evidence?: Record<string, unknown>) => {
    if (t.afterCrash) {
      // The unit is gone: the harness goes on without its C (an entry that never returned is -EIO, a device of the
      // dead process fails every call), so what a check sees now follows from the crash. Named in the crash's
      // evidence, not a violation of its own.
      report(rule, message);
      const v = log.violations.pop()!;
      t.afterCrash.push(`${v.rule}: ${v.message}`);
      return;
    }
    if (evidence?.['cSite'] !== undefined || t.serving > 0 || !t.last) return report(rule, message, evidence);
    // One line: what the C's entry of this step returned, and where the C last was; the trail goes in evidence (report.json, replay).
    const returned = t.returned !== null && t.returnedStep === log.step ? t.returned : null;
    report(rule, `${message} [${returned ? `${returned}; ` : ''}${AFTER_THE_STEP}${t.last}]`, {
      ...evidence, cSite: t.last, cSiteIs: 'last-call', ...(returned ? { cReturned: returned } : {}), cTrail: [...t.trail],
    });
  };
  return t;
}

/** Serve one C call at `site` (a promise counts until it settles); `op` names the service in the trail. */
export function servingAt<R>(t: CSiteTracker, site: string, fn: () => R, op?: string): R {
  // The calls of the tool's own driver (c/units: the probe's allocations) are not the C under test's.
  if (op && !/(^|\/)c\/(units|shim)\//.test(site)) note(t, `${site}: ${op}`);
  t.serving++;
  let r: R;
  try {
    r = fn();
  } catch (e) {
    t.serving--;
    t.last = site;
    throw e;
  }
  if (r instanceof Promise) {
    return r.finally(() => {
      t.serving--;
      t.last = site;
    }) as R;
  }
  t.serving--;
  t.last = site;
  return r;
}
