/**
 * The toxics toxiproxy's API takes: each type's attributes and the
 * FaultProxy fault it becomes, the checks of a toxic's fields, and the
 * error a refused request gets. Internal to the testing package.
 *
 * @module
 */

import { checkFault, type Fault } from "./_fault.ts";

/** Which way a toxic applies, as toxiproxy names it: client → server is `"upstream"`. */
export type ToxicStream = "upstream" | "downstream";

/**
 * A request the API refuses: `status` is the HTTP status it answers with.
 *
 * @example A toxic on a proxy that does not exist
 * ```ts
 * import { Toxiproxy, ToxiproxyError } from "@netconn/netconn/testing";
 * import assert from "node:assert/strict";
 *
 * await using toxiproxy = new Toxiproxy();
 * await assert.rejects(
 *   toxiproxy.addToxic("nope", { type: "latency" }),
 *   (e) => e instanceof ToxiproxyError && e.status === 404,
 * );
 * ```
 */
export class ToxiproxyError extends Error {
  /** 400 (a bad request), 404 (no such proxy or toxic) or 409 (it exists already). */
  readonly status: number;

  /**
   * Makes the error of a refused request.
   *
   * @param message What is wrong.
   * @param status The HTTP status.
   */
  constructor(message: string, status: number) {
    super(message);
    this.name = "ToxiproxyError";
    this.status = status;
  }
}

/** A toxic's fields that make its fault. */
export interface ToxicFields {
  /** Its type: one of {@linkcode TOXIC_TYPES}. */
  type: string;
  /** Which way it applies. */
  stream: ToxicStream;
  /** The chance, from 0 to 1, that a conn gets it. */
  toxicity: number;
  /** Its attributes, by toxiproxy's names. */
  attributes: Record<string, number>;
}

/** A toxic type: its attributes with their defaults, and the fault it becomes (null: none). */
interface ToxicType {
  attributes: Record<string, number>;
  fault(a: Record<string, number>, direction: ToxicStream): Fault | null;
}

/** The toxic types, by name. */
export const TYPES: Record<string, ToxicType> = {
  latency: {
    attributes: { latency: 0, jitter: 0 },
    fault: (a, direction) => ({ kind: "latency", ms: a.latency!, jitter: a.jitter!, direction }),
  },
  bandwidth: {
    attributes: { rate: 0 },
    // KB/s, as toxiproxy (1 KB = 1000 bytes); 0 is no cap.
    fault: (a, direction) =>
      a.rate! <= 0 ? null : { kind: "bandwidth", bytesPerSecond: a.rate! * 1000, direction },
  },
  slow_close: {
    attributes: { delay: 0 },
    fault: (a, direction) => ({ kind: "slow-close", ms: a.delay!, direction }),
  },
  timeout: {
    attributes: { timeout: 0 },
    fault: (a, direction) => ({ kind: "timeout", ms: a.timeout!, direction }),
  },
  reset_peer: {
    attributes: { timeout: 0 },
    fault: (a, direction) => ({ kind: "reset", afterMs: a.timeout!, direction }),
  },
  slicer: {
    attributes: { average_size: 0, size_variation: 0, delay: 0 },
    // delay in microseconds, as toxiproxy.
    fault: (a, direction) => ({
      kind: "slice",
      size: a.average_size!,
      sizeVariation: a.size_variation!,
      delay: a.delay! / 1000,
      direction,
    }),
  },
  limit_data: {
    attributes: { bytes: 0 },
    fault: (a, direction) => ({ kind: "limit-data", bytes: a.bytes!, direction }),
  },
  // netconn's own faults, beside toxiproxy's.
  silence: { attributes: {}, fault: (_, direction) => ({ kind: "silence", direction }) },
  cut: {
    attributes: { after: 0 },
    fault: (a, direction) => ({ kind: "cut", after: a.after!, direction }),
  },
  reset: {
    attributes: { after: -1, after_ms: -1 },
    // -1: not set; with neither, at once.
    fault: (a, direction) => ({
      kind: "reset",
      ...(a.after! >= 0 ? { after: a.after! } : {}),
      ...(a.after_ms! >= 0 ? { afterMs: a.after_ms! } : {}),
      direction,
    }),
  },
  refuse: { attributes: {}, fault: () => ({ kind: "refuse" }) },
};

/**
 * The toxic types the API takes: toxiproxy's (`latency`, `bandwidth`,
 * `slow_close`, `timeout`, `reset_peer`, `slicer`, `limit_data`) and
 * netconn's own (`silence`, `cut`, `reset`, `refuse`).
 *
 * @example
 * ```ts
 * import { TOXIC_TYPES } from "@netconn/netconn/testing";
 * import assert from "node:assert/strict";
 *
 * assert.ok(TOXIC_TYPES.includes("limit_data"));
 * assert.ok(TOXIC_TYPES.includes("silence"));
 * ```
 */
export const TOXIC_TYPES: readonly string[] = Object.freeze(Object.keys(TYPES));

/** A toxicity: a number from 0 to 1. */
export function checkToxicity(t: unknown): number {
  if (typeof t !== "number" || !(t >= 0 && t <= 1)) {
    throw bad(`toxicity must be a number from 0 to 1: received ${JSON.stringify(t)}`);
  }
  return t;
}

/** A type's attributes: `old`, changed by `given`; unknown names and non-numbers are refused. */
export function attributesOf(
  type: string,
  old: Record<string, number>,
  given: unknown,
): Record<string, number> {
  if (typeof given !== "object" || given === null) throw bad("attributes must be an object");
  const defaults = TYPES[type]!.attributes;
  const out = { ...defaults, ...old };
  for (const [key, value] of Object.entries(given)) {
    if (!(key in defaults)) {
      const known = Object.keys(defaults).join(", ") || "none";
      throw bad(`a ${type} toxic has no attribute "${key}" (it takes ${known})`);
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw bad(`attribute ${key} must be a number: received ${JSON.stringify(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/** The fault a toxic becomes, checked by FaultProxy's rules (a 400 if they refuse it). */
export function faultOf(t: ToxicFields): Fault | null {
  const fault = TYPES[t.type]!.fault(t.attributes, t.stream);
  if (fault === null) return null;
  const withToxicity = { ...fault, toxicity: t.toxicity } as Fault;
  try {
    checkFault(withToxicity); // here, so that a bad attribute is a 400 before anything changes
  } catch (e) {
    throw bad(`${t.type} toxic: ${(e as Error).message}`);
  }
  return withToxicity;
}

/** A refused request: status 400. */
export function bad(message: string): ToxiproxyError {
  return new ToxiproxyError(message, 400);
}
