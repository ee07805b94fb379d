/**
 * The article's dial cases (its first half): nobody listening, and a listener
 * whose backlog is full because nobody accepts.
 *
 * @module
 */

import { type Conn, NetError, TimeoutError } from "../mod.ts";
import type { GoResult } from "./_go.ts";
import type { Agreement, Experiment, Lab, Outcome } from "./_lab.ts";
import { LOOPBACK } from "../_kit/loopback.ts";
import { describe, kindOf } from "./_cells.ts";
import { failure, since } from "../_kit/wait.ts";
import { agreement, both, same, sameError } from "./_agree.ts";

/** Dial a port that was just closed: refused at once. */
export const dialRefused: Experiment = {
  name: "dial: nobody listening",
  go: "Dial fails at once: connection refused",
  goCase: "dial-refused",
  compare: (go, ours) => agreement(sameError(go.facts?.error, ours.facts?.error)),
  async run(lab: Lab): Promise<Outcome> {
    const ln = lab.listen();
    const port = ln.addr.port;
    await ln[Symbol.asyncDispose]();
    const start = performance.now();
    const error = await failure(lab.dial(`${LOOPBACK}:${port}`));
    const ms = since(start);
    const kind = error instanceof NetError ? error.kind : "none";
    return {
      netconn: `${describe(error)} in ${ms} ms`,
      numbers: { ms },
      facts: { error: kind },
      ok: kind === "refused" && ms < 1000,
    };
  },
};

/**
 * Listen with backlog 0 and never accept; dial with a timeout until one dial
 * hangs: it must end with a TimeoutError when the timeout runs out.
 */
export const dialFullBacklog: Experiment = {
  name: "dial: backlog full",
  go: "Dial hangs; DialTimeout fails with i/o timeout at the limit",
  limitMs: 10_000,
  goCase: "dial-backlog-full",
  compare: compareBacklog,
  async run(lab: Lab): Promise<Outcome> {
    const ln = lab.listen({ backlog: 0 });
    const timeout = 300;
    const conns: Conn[] = [];
    let error: unknown;
    let ms = 0;
    while (conns.length < 64 && error === undefined) {
      const start = performance.now();
      try {
        conns.push(await lab.dial(ln.addr, { timeout }));
      } catch (e) {
        error = e;
        ms = since(start);
      }
    }
    return {
      netconn: `backlog 0: ${conns.length} dial(s) connected, the next → ` +
        `${describe(error)} after ${ms} ms (timeout ${timeout} ms)`,
      numbers: { backlog: 0, connected: conns.length, timeoutMs: timeout, ms },
      facts: { error: kindOf(error) },
      ok: error instanceof TimeoutError && ms >= timeout - 2 && ms < timeout + 200,
    };
  },
};

/**
 * Backlog rows agree when as many dials connected before one hung, and both
 * hung dials ended at their timeout.
 */
export function compareBacklog(go: GoResult, ours: Outcome): Agreement {
  return agreement(
    same("connected", go.numbers.connected, ours.numbers.connected),
    both("the next timed out", go.facts?.error === "timeout", ours.facts?.error === "timeout"),
  );
}

/** The dial rows. */
export const dialExperiments: Experiment[] = [dialRefused, dialFullBacklog];
