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

/** Adds a delay to every chunk: `ms`, plus or minus up to `jitter`. */
export interface LatencyFault {
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
export interface BandwidthFault {
  /** Tells this fault apart: `"bandwidth"`. */
  kind: "bandwidth";
  /** The cap in bytes a second, at least 1. */
  bytesPerSecond: number;
  /** Which way it applies. @default {"both"} */
  direction?: Direction;
}

/** Cuts the stream into writes of at most `size` bytes, `delay` ms apart. */
export interface SliceFault {
  /** Tells this fault apart: `"slice"`. */
  kind: "slice";
  /** The largest write, in bytes: an integer of at least 1. */
  size: number;
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
export interface SilenceFault {
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
export interface CutFault {
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
export interface ResetFault {
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
export interface RefuseFault {
  /** Tells this fault apart: `"refuse"`. */
  kind: "refuse";
}

/** Holds an EOF for `ms` before passing it on (FIN), after the data before it. */
export interface SlowCloseFault {
  /** Tells this fault apart: `"slow-close"`. */
  kind: "slow-close";
  /** The extra delay in milliseconds. */
  ms: number;
  /** Which way it applies. @default {"both"} */
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
  | SlowCloseFault;

/** The kinds of {@linkcode Fault}. */
export type FaultKind = Fault["kind"];

/** A fault with its defaults filled in, frozen. */
export type CheckedFault = Readonly<Fault & { direction: Direction }>;

const KINDS: readonly string[] = [
  "latency",
  "bandwidth",
  "slice",
  "silence",
  "cut",
  "reset",
  "refuse",
  "slow-close",
];
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
  if (kind === "refuse") return Object.freeze({ kind, direction: "both" });
  const direction = f.direction ?? "both";
  if (typeof direction !== "string" || !DIRECTIONS.includes(direction)) {
    throw new TypeError(
      `Fault direction must be one of ${DIRECTIONS.join(", ")}: received ${describe(direction)}`,
    );
  }
  const d = direction as Direction;
  switch (kind) {
    case "latency":
      return Object.freeze({
        kind,
        ms: duration(f.ms, "Latency ms"),
        jitter: duration(f.jitter ?? 0, "Latency jitter"),
        direction: d,
      });
    case "bandwidth":
      return Object.freeze({ kind, bytesPerSecond: rate(f.bytesPerSecond), direction: d });
    case "slice":
      return Object.freeze({
        kind,
        size: count(f.size, "Slice size", 1),
        delay: duration(f.delay ?? 0, "Slice delay"),
        direction: d,
      });
    case "silence":
      return Object.freeze({ kind, direction: d });
    case "cut":
      return Object.freeze({ kind, after: count(f.after ?? 0, "Cut after", 0), direction: d });
    case "reset": {
      const after = f.after === undefined ? undefined : count(f.after, "Reset after", 0);
      const afterMs = f.afterMs === undefined
        ? (after === undefined ? 0 : undefined)
        : duration(f.afterMs, "Reset afterMs");
      return Object.freeze({
        kind,
        ...(after === undefined ? {} : { after }),
        ...(afterMs === undefined ? {} : { afterMs }),
        direction: d,
      });
    }
    default:
      return Object.freeze({
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
