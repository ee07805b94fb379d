/**
 * Guard: the conn under test as testConn's steps see it. Every read, write
 * and closeWrite goes through it, so that whatever the conn does, the suite
 * reports it and never crashes or hangs:
 *
 * - each operation's promise is marked handled and kept (a step that fails
 *   early leaves no rejection unhandled; stop names what is still pending);
 * - a method that throws, or returns something that is not a promise,
 *   becomes a rejected or resolved promise;
 * - a result that breaks the contract (a write resolved with a count other
 *   than `p.length`, a read with a count outside 0..`p.length`, an
 *   operation started after close that succeeds) is a violation: the
 *   operation rejects with a {@linkcode ConnTestFailure} that says what the
 *   conn did, and the step fails with the first violation even if it caught
 *   that rejection;
 * - operations that keep completing without letting the event loop turn (a
 *   closed conn that returns data at once, in a loop) are slowed to one a
 *   turn, so the step's timers still fire.
 *
 * Internal to testConn.
 *
 * @module
 */

import type { DeadlineTime } from "../deadline.ts";
import type { ConnUnderTest } from "./make_pipe.ts";
import { ConnTestFailure, describeError } from "./_conn_check.ts";

/** Operations in one event-loop turn before the guard makes them wait for the next turn. */
const OPS_PER_TURN = 1000;

/** An operation the guard started and has not seen settle. */
interface Pending {
  what: string;
}

/** What a step's conns did: their operations, and the first broken promise. */
export class Watch {
  #pending = new Set<Pending>();
  #all: Promise<unknown>[] = [];
  /** The first contract violation seen, if any. */
  violation: ConnTestFailure | undefined;
  #opsThisTurn = 0;
  #turn: Promise<void> | null = null; // resolves at the next event-loop turn
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextTurn: (() => void) | null = null;

  /** True once the step is over: later operations fail at once, so no loop outlives it. */
  over = false;

  /** Records a violation (the first one is kept) and returns it. */
  violate(message: string): ConnTestFailure {
    const failure = new ConnTestFailure(message);
    this.violation ??= failure;
    return failure;
  }

  /** Keeps `p` (marked handled) under `what` until it settles. */
  track<T>(p: Promise<T>, what: string): Promise<T> {
    const entry: Pending = { what };
    this.#pending.add(entry);
    const settled = p.then(() => {}, () => {}).finally(() => this.#pending.delete(entry));
    this.#all.push(settled);
    return p;
  }

  /**
   * Resolves at once while few operations ran in this event-loop turn; past
   * OPS_PER_TURN, after the next turn.
   */
  pace(): Promise<void> | null {
    this.#turn ??= new Promise<void>((resolve) => {
      this.#nextTurn = resolve;
      this.#timer = setTimeout(() => this.#newTurn(), 0);
    });
    return this.#opsThisTurn++ < OPS_PER_TURN ? null : this.#turn;
  }

  /** What the conns have pending now, by name. */
  get pending(): string[] {
    return [...this.#pending].map((p) => p.what);
  }

  #newTurn(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#opsThisTurn = 0;
    this.#turn = null;
    const resolve = this.#nextTurn;
    this.#nextTurn = null;
    resolve?.();
  }

  /**
   * Waits up to `ms` for every operation to settle; returns what is still
   * pending then, by name. Clears the pacing timer.
   */
  async settle(ms: number): Promise<string[]> {
    let id: ReturnType<typeof setTimeout> | undefined;
    let over = false;
    const timer = new Promise<void>((resolve) => {
      id = setTimeout(() => {
        over = true;
        resolve();
      }, ms);
    });
    try {
      // Operations started while waiting are waited for too.
      for (let seen = 0; !over && seen < this.#all.length;) {
        seen = this.#all.length;
        await Promise.race([Promise.all(this.#all), timer]);
      }
    } finally {
      clearTimeout(id);
      this.#newTurn();
    }
    return this.pending;
  }
}

/**
 * The conn `conn`, named `name` ("a" or "b") in messages, with every
 * operation watched by `watch`.
 */
export function guard(conn: ConnUnderTest, name: string, watch: Watch): ConnUnderTest {
  let closed = false;
  const call = <T>(what: string, fn: () => Promise<T>, check: (value: T) => string | null) => {
    if (watch.over) {
      // A task the step left running (a conn that never fails it): end it here.
      const ended = Promise.reject(
        new ConnTestFailure(`${name}.${what} was called after its step had ended`),
      );
      ended.catch(() => {});
      return ended;
    }
    const afterClose = closed;
    let p: Promise<T>;
    try {
      const result = fn();
      p = result instanceof Promise ? result : Promise.resolve(result);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.catch(() => {}); // its outcome is checked below, perhaps a turn later
    const paced = watch.pace();
    const checked = (paced === null ? p : paced.then(() => p)).then((value) => {
      const broken = check(value);
      if (broken !== null) throw watch.violate(`${name}.${what} ${broken}`);
      if (afterClose) {
        throw watch.violate(
          `${name}.${what}, called after ${name}.close(), resolved with ${
            String(value)
          }; want an error (closed means closed)`,
        );
      }
      return value;
    });
    return watch.track(checked, `${name}.${what}${afterClose ? " (after close)" : ""}`);
  };
  const guarded: ConnUnderTest = {
    read(p: Uint8Array): Promise<number | null> {
      return call(`read of ${p.length} bytes`, () => conn.read(p), (n) => readProblem(n, p.length));
    },
    write(p: Uint8Array): Promise<number> {
      return call(
        `write of ${p.length} bytes`,
        () => conn.write(p),
        (n) =>
          n === p.length
            ? null
            : `resolved with ${
              describeValue(n)
            }; want ${p.length} (a write resolves once all of p is sent)`,
      );
    },
    setDeadline(t: DeadlineTime): void {
      conn.setDeadline(t);
    },
    setReadDeadline(t: DeadlineTime): void {
      conn.setReadDeadline(t);
    },
    setWriteDeadline(t: DeadlineTime): void {
      conn.setWriteDeadline(t);
    },
    close(): void {
      closed = true;
      conn.close();
    },
    get localAddr(): unknown {
      return conn.localAddr;
    },
    get remoteAddr(): unknown {
      return conn.remoteAddr;
    },
  };
  if (typeof conn.closeWrite === "function") {
    guarded.closeWrite = () => call("closeWrite", () => conn.closeWrite!(), () => null);
  }
  return guarded;
}

/**
 * What is wrong with a read's result `n` for a buffer of `len` bytes, or
 * null. As Go's `io.Reader`, 0 is allowed (a conn should not return it for
 * a non-empty buffer, but the suite does not fail it for that).
 */
function readProblem(n: unknown, len: number): string | null {
  if (n === null) return null;
  if (typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= len) return null;
  return `resolved with ${describeValue(n)}; want 0 to ${len} or null (EOF)`;
}

function describeValue(v: unknown): string {
  return v instanceof Error
    ? describeError(v)
    : typeof v === "string"
    ? JSON.stringify(v)
    : String(v);
}
