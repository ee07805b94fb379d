/**
 * What a fault is: the {@linkcode Fault} shapes a {@linkcode FaultProxy}
 * accepts, and the one place their fields are checked and given defaults.
 *
 * @module
 */

/**
 * Which way a fault applies: `"upstream"` is client → server (what the
 * proxy's clients send), `"downstream"` is server → client, `"both"` is each
 * of them on its own.
 */
export type Direction = "upstream" | "downstream" | "both";

/** What every fault may carry beside its own fields. */
export interface FaultBase {
  /**
   * The chance, from 0 to 1, that a conn gets this fault (toxiproxy's
   * `toxicity`): drawn once per conn when the fault reaches it, from the
   * proxy's seeded generator. 1 applies it to every conn.
   * @default {1}
   */
  toxicity?: number;
}

/** Adds a delay to every chunk: `ms`, plus or minus up to `jitter`. */
export interface LatencyFault extends FaultBase {
  /** Tells this fault apart: `"latency"`. */
  kind: "latency";
  /** The delay in milliseconds, measured from when the proxy read the chunk. */
  ms: number;
  /** Each chunk's delay is drawn uniformly from `ms ± jitter` (never below 0). @default {0} */
  jitter?: number;
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/** Caps the rate: at most `bytesPerSecond`, sent in pieces of 10 ms' worth. */
export interface BandwidthFault extends FaultBase {
  /** Tells this fault apart: `"bandwidth"`. */
  kind: "bandwidth";
  /** The cap in bytes a second, at least 1. */
  bytesPerSecond: number;
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/**
 * Cuts the stream into writes of `size` bytes (plus or minus up to
 * `sizeVariation`, drawn from the proxy's seeded generator), `delay` ms
 * apart: toxiproxy's `slicer`.
 */
export interface SliceFault extends FaultBase {
  /** Tells this fault apart: `"slice"`. */
  kind: "slice";
  /** The size of a write, in bytes: an integer of at least 1. */
  size: number;
  /** Each write's size is drawn from `size ± sizeVariation` (at least 1 byte). @default {0} */
  sizeVariation?: number;
  /** Milliseconds between one slice and the next. @default {0} */
  delay?: number;
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/**
 * Stops forwarding, conns left open: data is held (the proxy reads up to
 * 256 KiB, then the sender's kernel buffers fill) and forwarded, in order,
 * once the fault is removed. An EOF is held too.
 */
export interface SilenceFault extends FaultBase {
  /** Tells this fault apart: `"silence"`. */
  kind: "silence";
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/**
 * After `after` more bytes, sends FIN (`closeWrite`) to the receiver of this
 * direction and discards what the sender sends later; the other direction
 * goes on.
 */
export interface CutFault extends FaultBase {
  /** Tells this fault apart: `"cut"`. */
  kind: "cut";
  /** Bytes forwarded, counted from when the fault reached the conn. @default {0} */
  after?: number;
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/**
 * Resets both sides of each conn after `after` more bytes in `direction`, or
 * `afterMs` milliseconds after the fault reached the conn, whichever comes
 * first; with neither, at once. With `--allow-ffi` on Linux each side gets a
 * real RST (its reads fail with ECONNRESET); elsewhere both are closed (FIN),
 * as {@linkcode FaultProxy} documents.
 */
export interface ResetFault extends FaultBase {
  /** Tells this fault apart: `"reset"`. */
  kind: "reset";
  /** Bytes forwarded in `direction`, counted from when the fault reached the conn. */
  after?: number;
  /** Milliseconds from when the fault reached the conn. */
  afterMs?: number;
  /** Which bytes `after` counts. @default {"both"} */
  direction?: Direction;
}

/** New conns are accepted and closed at once (the client reads EOF); open conns go on. */
export interface RefuseFault extends FaultBase {
  /** Tells this fault apart: `"refuse"`. */
  kind: "refuse";
}

/** Holds an EOF for `ms` before passing it on (FIN), after the data before it. */
export interface SlowCloseFault extends FaultBase {
  /** Tells this fault apart: `"slow-close"`. */
  kind: "slow-close";
  /** The extra delay in milliseconds. */
  ms: number;
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/**
 * Drops the data of its direction while in force (an EOF is held), and
 * closes the conn on both sides `ms` milliseconds after the fault reached
 * it; with `ms` 0 it never closes, and data flows again once the fault is
 * removed: toxiproxy's `timeout`.
 *
 * @example A server that stops answering, and the conn closed 100 ms later
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import { FaultProxy } from "@netconn/netconn/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = listen("127.0.0.1:0");
 * await using proxy = new FaultProxy(server.addr);
 * await using client = await dial(proxy.addr);
 * await using peer = await server.accept();
 * proxy.add({ kind: "timeout", ms: 100, direction: "downstream" });
 * await peer.write(new Uint8Array(4)); // dropped
 * assert.equal(await client.read(new Uint8Array(4)), null); // closed, nothing came
 * ```
 */
export interface TimeoutFault extends FaultBase {
  /** Tells this fault apart: `"timeout"`. */
  kind: "timeout";
  /** Milliseconds until the conn is closed; 0 for never. */
  ms: number;
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/**
 * Closes the conn on both sides (FIN) once `bytes` more bytes went through
 * in its direction, counted from when the fault reached the conn:
 * toxiproxy's `limit_data`.
 *
 * @example Exactly 3 bytes, then EOF
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import { FaultProxy } from "@netconn/netconn/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = listen("127.0.0.1:0");
 * await using proxy = new FaultProxy(server.addr, {
 *   faults: [{ kind: "limit-data", bytes: 3, direction: "downstream" }],
 * });
 * await using client = await dial(proxy.addr);
 * await using peer = await server.accept();
 * await peer.write(new Uint8Array(10));
 * const buf = new Uint8Array(10);
 * let got = 0;
 * for (let n = await client.read(buf); n !== null; n = await client.read(buf)) got += n;
 * assert.equal(got, 3);
 * ```
 */
export interface LimitDataFault extends FaultBase {
  /** Bytes forwarded before the conn is closed. */
  bytes: number;
  /** Tells this fault apart: `"limit-data"`. */
  kind: "limit-data";
  /** Which bytes it counts. @default {"both"} */
  direction?: Direction;
}

/** One fault of a {@linkcode FaultProxy}, told apart by `kind`. */
export type Fault =
  | LatencyFault
  | BandwidthFault
  | SliceFault
  | SilenceFault
  | CutFault
  | ResetFault
  | RefuseFault
  | SlowCloseFault
  | TimeoutFault
  | LimitDataFault;

/** The kinds of {@linkcode Fault}. */
export type FaultKind = Fault["kind"];

/** A fault with its defaults filled in, frozen. */
export type CheckedFault = Readonly<Fault & { direction: Direction; toxicity: number }>;

const KINDS: readonly string[] = [
  "latency",
  "bandwidth",
  "slice",
  "silence",
  "cut",
  "reset",
  "refuse",
  "slow-close",
  "timeout",
  "limit-data",
];
/** The fields every kind takes beside its own. */
const COMMON = ["kind", "direction", "toxicity"];
/** Each kind's own fields. */
const FIELDS: Record<string, readonly string[]> = {
  latency: ["ms", "jitter"],
  bandwidth: ["bytesPerSecond"],
  slice: ["size", "sizeVariation", "delay"],
  silence: [],
  cut: ["after"],
  reset: ["after", "afterMs"],
  refuse: [],
  "slow-close": ["ms"],
  timeout: ["ms"],
  "limit-data": ["bytes"],
};
const DIRECTIONS: readonly string[] = ["upstream", "downstream", "both"];
/** The longest delay a timer can wait (2^31 - 1 ms, about 24.8 days). */
const MAX_MS = 2 ** 31 - 1;

/**
 * Checks a fault and returns a frozen copy with its defaults.
 *
 * @throws {TypeError} If it is not an object, its kind or direction is
 *   unknown, or a field has the wrong type.
 * @throws {RangeError} If a number is out of range.
 */
export function checkFault(fault: unknown): CheckedFault {
  if (typeof fault !== "object" || fault === null) {
    throw new TypeError(`Fault must be an object: received ${describe(fault)}`);
  }
  const f = fault as Record<string, unknown>;
  const kind = f.kind;
  if (typeof kind !== "string" || !KINDS.includes(kind)) {
    throw new TypeError(
      `Fault kind must be one of ${KINDS.join(", ")}: received ${describe(kind)}`,
    );
  }
  for (const key of Object.keys(f)) {
    if (!COMMON.includes(key) && !FIELDS[kind]!.includes(key)) {
      throw new TypeError(
        `A ${kind} fault has no field "${key}": it takes ${
          [...FIELDS[kind]!, "direction", "toxicity"].join(", ")
        }`,
      );
    }
  }
  const toxicity = f.toxicity === undefined ? 1 : number(f.toxicity, "Fault toxicity");
  if (!(toxicity >= 0 && toxicity <= 1)) {
    throw new RangeError(`Fault toxicity must be from 0 to 1: received "${toxicity}"`);
  }
  if (kind === "refuse") return Object.freeze({ kind, direction: "both", toxicity });
  const direction = f.direction ?? "both";
  if (typeof direction !== "string" || !DIRECTIONS.includes(direction)) {
    throw new TypeError(
      `Fault direction must be one of ${DIRECTIONS.join(", ")}: received ${describe(direction)}`,
    );
  }
  const d = direction as Direction;
  return Object.freeze({ ...fields(kind, f), direction: d, toxicity }) as CheckedFault;
}

/** A fault's own fields, checked, with their defaults. */
function fields(kind: string, f: Record<string, unknown>): Fault {
  const d = "both";
  switch (kind) {
    case "latency":
      return ({
        kind,
        ms: duration(f.ms, "Latency ms"),
        jitter: duration(f.jitter ?? 0, "Latency jitter"),
        direction: d,
      });
    case "bandwidth":
      return ({ kind, bytesPerSecond: rate(f.bytesPerSecond), direction: d });
    case "slice":
      return ({
        kind,
        size: count(f.size, "Slice size", 1),
        sizeVariation: count(f.sizeVariation ?? 0, "Slice sizeVariation", 0),
        delay: duration(f.delay ?? 0, "Slice delay"),
        direction: d,
      });
    case "silence":
      return ({ kind, direction: d });
    case "cut":
      return ({ kind, after: count(f.after ?? 0, "Cut after", 0), direction: d });
    case "reset": {
      const after = f.after === undefined ? undefined : count(f.after, "Reset after", 0);
      const afterMs = f.afterMs === undefined
        ? (after === undefined ? 0 : undefined)
        : duration(f.afterMs, "Reset afterMs");
      return ({
        kind,
        ...(after === undefined ? {} : { after }),
        ...(afterMs === undefined ? {} : { afterMs }),
        direction: d,
      });
    }
    case "timeout":
      return ({ kind, ms: duration(f.ms, "Timeout ms"), direction: d });
    case "limit-data":
      return ({ kind, bytes: count(f.bytes, "Limit-data bytes", 0), direction: d });
    default:
      return ({
        kind: "slow-close",
        ms: duration(f.ms, "Slow close ms"),
        direction: d,
      });
  }
}

/** Whether a fault of this direction applies to the link going `way`. */
export function appliesTo(fault: CheckedFault, way: "upstream" | "downstream"): boolean {
  return fault.direction === "both" || fault.direction === way;
}

function number(value: unknown, what: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number: received ${describe(value)}`);
  }
  return value;
}

function duration(value: unknown, what: string): number {
  const ms = number(value, what);
  if (!(ms >= 0 && ms <= MAX_MS)) {
    throw new RangeError(`${what} must be from 0 to ${MAX_MS} milliseconds: received "${ms}"`);
  }
  return ms;
}

function count(value: unknown, what: string, min: number): number {
  const n = number(value, what);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new RangeError(`${what} must be an integer of at least ${min} bytes: received "${n}"`);
  }
  return n;
}

function rate(value: unknown): number {
  const r = number(value, "Bandwidth bytesPerSecond");
  if (!(r >= 1 && r < Infinity)) {
    throw new RangeError(`Bandwidth bytesPerSecond must be finite and at least 1: received "${r}"`);
  }
  return r;
}

/** A value as an error message quotes it. */
export function describe(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (value === null) return "null";
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} "${String(value)}"`;
}
