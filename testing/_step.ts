/**
 * A step of the conformance suite, as the suite's step files write them.
 * Internal.
 *
 * @module
 */

import type { ConnUnderTest } from "./make_pipe.ts";
import type { Tasks } from "./_conn_check.ts";

/** What a step's body gets: the pair, its background tasks and the wait bound. */
export interface StepRun {
  a: ConnUnderTest;
  b: ConnUnderTest;
  tasks: Tasks;
  waitMs: number;
  /** How late a deadline may fire: at most max(lateMs, 5 × how far ahead it was set). */
  lateMs: number;
}

/** A named step of the suite. */
export type Step = [name: string, body: (run: StepRun) => Promise<void>];
