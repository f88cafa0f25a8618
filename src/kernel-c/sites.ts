// The C file:line of every violation a C unit's run raises. A violation a
// kernel service raises during a call of the C names that call's site; one a
// checker raises after the C returned (a leak found after the step, a table
// compared with the model, a lifecycle check after the command) names the
// last call the C made across the bridge before it: the place the C had
// reached when the rule broke. Both go in evidence.cSite and in the message.
import type { RuleId } from '../rules/registry.ts';
import type { ViolationLog } from '../rules/violation.ts';

/** Where the C of one log is: how many of its calls are being served, and the last one served. */
export interface CSiteTracker {
  serving: number;
  last: string | null;
}

const trackers = new WeakMap<ViolationLog, CSiteTracker>();

/**
 * The tracker of `log`; the first time, every later report() on it made while
 * no C call is being served, without a C site, gets the site of the C's last
 * call (`[after the C's last call, file:line (func)]`, evidence.cSite and
 * cSiteIs 'last-call'). Reports during a call are named by that call's site
 * where the call is served (atSite, the exporter's annotate); reports made
 * before the C made any call stay as they are.
 */
export function trackCSites(log: ViolationLog): CSiteTracker {
  const known = trackers.get(log);
  if (known) return known;
  const t: CSiteTracker = { serving: 0, last: null };
  trackers.set(log, t);
  const report = log.report.bind(log);
  log.report = (rule: RuleId, message: string, evidence?: Record<string, unknown>) => {
    if (evidence?.['cSite'] !== undefined || t.serving > 0 || !t.last) return report(rule, message, evidence);
    report(rule, `${message} [after the C's last call, ${t.last}]`, { ...evidence, cSite: t.last, cSiteIs: 'last-call' });
  };
  return t;
}

/** Serve one C call at `site` (a promise counts until it settles). */
export function servingAt<R>(t: CSiteTracker, site: string, fn: () => R): R {
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
