/**
 * One error shape for every network failure, as Go's `*net.OpError`: the
 * operation, the addresses, what went wrong as a {@linkcode NetErrorKind}, and
 * the byte counts that tell a caller exactly where the stream stands.
 *
 * @module
 */

import { Interrupt } from "./_io/wait.ts";

/** The operation that failed, as Go names it in `net.OpError.Op`. */
export type NetOp =
  | "dial"
  | "listen"
  | "accept"
  | "read"
  | "write"
  | "close"
  | "handshake"
  | "set";

/**
 * What went wrong, for callers that branch on it:
 *
 * - `"timeout"`: a deadline or timeout passed ({@linkcode TimeoutError})
 * - `"closed"`: this side closed the conn or listener ({@linkcode ClosedError})
 * - `"not-supported"`: an option this platform or permission set cannot do
 *   ({@linkcode NotSupportedError})
 * - `"aborted"`: the caller's `AbortSignal` fired; `cause` is its reason
 * - `"refused"`: nobody listens at the address (ECONNREFUSED)
 * - `"reset"`: the peer reset the connection (ECONNRESET)
 * - `"broken-pipe"`: writing after the peer or this side shut the stream (EPIPE)
 * - `"addr-in-use"`: the address is taken (EADDRINUSE)
 * - `"addr-not-available"`: the address is not local (EADDRNOTAVAIL)
 * - `"unreachable"`: no route to the host or network
 * - `"lookup"`: the host name did not resolve
 * - `"tls"`: a TLS handshake or record failed (unknown authority, wrong host
 *   name, expired certificate, a peer not speaking TLS, an alert from the
 *   peer); `cause` has the runtime's error
 * - `"busy"`: the operation needs the conn idle (`startTls` with bytes
 *   unread or an operation in flight); nothing was changed
 * - `"invalid-address"`: the address could not be parsed or is out of range
 * - `"other"`: anything else; `cause` has the runtime's error
 */
export type NetErrorKind =
  | "timeout"
  | "closed"
  | "not-supported"
  | "aborted"
  | "refused"
  | "reset"
  | "broken-pipe"
  | "addr-in-use"
  | "addr-not-available"
  | "unreachable"
  | "lookup"
  | "tls"
  | "busy"
  | "invalid-address"
  | "other";

/** Options for {@linkcode NetError} and its subclasses. */
export interface NetErrorOptions {
  /** The failed operation. */
  op: NetOp;
  /** What went wrong. @default {"other"} */
  kind?: NetErrorKind;
  /** The network, as Go names it in messages: `"tcp"` (TLS too) or `"unix"`. @default {"tcp"} */
  net?: string;
  /** The local address, `host:port`, when there is one. */
  source?: string;
  /** The remote address (or the listener's own), `host:port`. */
  addr?: string;
  /** Bytes of the caller's buffer that were read before the failure. @default {0} */
  bytesRead?: number;
  /** Bytes of the caller's buffer the OS accepted before the failure. @default {0} */
  bytesWritten?: number;
  /**
   * For a write whose runtime write was still in flight when it failed (Deno
   * cannot cancel it): the final count of the caller's bytes the OS accepted,
   * once that runtime write settles.
   */
  settled?: Promise<number>;
  /** The underlying error, or the `AbortSignal`'s reason, untouched. */
  cause?: unknown;
}

/**
 * NetError is the one error shape of netconn. Its message reads like Go's
 * `net.OpError`: `"<op> tcp <source>-><addr>: <detail>"`.
 *
 * Test it with `instanceof` and its fields, never by matching its message:
 * `err.timeout` is Go's `Timeout()`, `err.kind` says what went wrong.
 *
 * @example Branch on the kind of a failed dial
 * ```ts
 * import { dial, NetError } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = closed.addr.port;
 * closed.close();
 * const err = await dial(`127.0.0.1:${port}`).catch((e) => e);
 * assert.ok(err instanceof NetError);
 * assert.equal(err.kind, "refused");
 * assert.equal(err.op, "dial");
 * assert.equal(err.timeout, false);
 * ```
 */
export class NetError extends Error {
  /** The failed operation. */
  readonly op: NetOp;
  /** What went wrong. */
  readonly kind: NetErrorKind;
  /** The local address, when there is one. */
  readonly source: string | undefined;
  /** The remote address (or the listener's own). */
  readonly addr: string | undefined;
  /** Go's `Timeout()`: true when a deadline or timeout passed. */
  readonly timeout: boolean;
  /** Bytes of the caller's buffer that were read before the failure; 0 when none. */
  readonly bytesRead: number;
  /** Bytes of the caller's buffer the OS accepted before the failure; 0 when none. */
  readonly bytesWritten: number;
  /**
   * For a write stranded in flight: resolves with the final count of the
   * caller's bytes the OS accepted, once Deno's runtime write ends. Until it
   * settles no later write on the conn starts.
   */
  readonly settled: Promise<number> | undefined;

  /**
   * Builds the error; `detail` is the text after the addresses.
   *
   * @param detail What went wrong, in a few lower-case words.
   * @param options The operation, kind, addresses, counts and cause.
   */
  constructor(detail: string, options: NetErrorOptions) {
    super(formatMessage(detail, options), { cause: options.cause });
    this.name = "NetError";
    this.op = options.op;
    this.kind = options.kind ?? "other";
    this.source = options.source;
    this.addr = options.addr;
    this.timeout = this.kind === "timeout";
    this.bytesRead = options.bytesRead ?? 0;
    this.bytesWritten = options.bytesWritten ?? 0;
    this.settled = options.settled;
  }
}

/**
 * TimeoutError is Go's `os.ErrDeadlineExceeded`: a deadline passed, or a dial
 * timed out. Its message contains `"i/o timeout"` and `timeout` is true. The
 * connection stays usable: move the deadline and try again.
 *
 * A write that times out has `bytesWritten` set to the bytes of its buffer
 * the OS had accepted when the deadline passed. If a runtime write was still
 * in flight then (Deno cannot cancel it), `settled` resolves with the final
 * count once it ends; until then no later write starts.
 *
 * @example A read deadline in the past fails at once
 * ```ts
 * import { dial, listen, TimeoutError } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using conn = await dial(ln.addr);
 * await using peer = await ln.accept();
 * conn.setReadDeadline(Date.now() - 1);
 * const err = await conn.read(new Uint8Array(8)).catch((e) => e);
 * assert.ok(err instanceof TimeoutError);
 * assert.ok(err.message.includes("i/o timeout"));
 * assert.equal(err.timeout, true);
 * ```
 */
export class TimeoutError extends NetError {
  /**
   * Builds the error.
   *
   * @param options The operation, addresses, counts and cause.
   */
  constructor(options: Omit<NetErrorOptions, "kind">) {
    super("i/o timeout", { ...options, kind: "timeout" });
    this.name = "TimeoutError";
  }
}

/**
 * ClosedError is Go's `net.ErrClosed`: the operation ran on a conn or listener
 * that this side closed, or was pending when it was closed. Its message
 * contains `"use of closed network connection"`. A peer's close is never a
 * ClosedError: reads see EOF (`null`) instead.
 *
 * @example Reading after close
 * ```ts
 * import { ClosedError, dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * const conn = await dial(ln.addr);
 * await using peer = await ln.accept();
 * conn.close();
 * const err = await conn.read(new Uint8Array(8)).catch((e) => e);
 * assert.ok(err instanceof ClosedError);
 * assert.ok(err.message.includes("use of closed network connection"));
 * ```
 */
export class ClosedError extends NetError {
  /**
   * Builds the error.
   *
   * @param options The operation, addresses and counts.
   */
  constructor(options: Omit<NetErrorOptions, "kind">) {
    super("use of closed network connection", { ...options, kind: "closed" });
    this.name = "ClosedError";
  }
}

/**
 * NotSupportedError says a socket option cannot be set here: the platform
 * lacks it, or a permission or flag it needs (`--allow-ffi`,
 * `--unstable-net`) is missing. Its message names what is missing.
 *
 * @example
 * ```ts
 * import { NotSupportedError } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const err = new NotSupportedError("setLinger needs --allow-ffi", { op: "set" });
 * assert.equal(err.kind, "not-supported");
 * assert.ok(err.message.includes("--allow-ffi"));
 * ```
 */
export class NotSupportedError extends NetError {
  /**
   * Builds the error.
   *
   * @param detail What is not supported and what would make it work.
   * @param options The operation and addresses.
   */
  constructor(detail: string, options: Omit<NetErrorOptions, "kind">) {
    super(detail, { ...options, kind: "not-supported" });
    this.name = "NotSupportedError";
  }
}

function formatMessage(detail: string, options: NetErrorOptions): string {
  const { op, source, addr, net = "tcp" } = options;
  let where = "";
  if (source !== undefined && addr !== undefined) where = ` ${source}->${addr}`;
  else if (addr !== undefined) where = ` ${addr}`;
  else if (source !== undefined) where = ` ${source}`;
  return `${op} ${net}${where}: ${detail}`;
}

/** Where an operation ran: the error fields every conn and listener fill in. */
export interface OpSite {
  /** The operation. */
  op: NetOp;
  /** The network, `"tcp"` or `"unix"`. */
  net?: string;
  /** The local address, `host:port`. */
  source?: string;
  /** The remote address (or the listener's own), `host:port`. */
  addr?: string;
}

/** The byte counts an error carries. */
export interface OpCounts {
  /** Bytes of the caller's buffer read before the failure. */
  bytesRead?: number;
  /** Bytes of the caller's buffer the OS accepted before the failure. */
  bytesWritten?: number;
  /** The final count of a write stranded in flight. */
  settled?: Promise<number>;
}

/**
 * The one boundary where a failure becomes the caller's error: an
 * {@linkcode Interrupt} (a passed deadline, a fired signal, this side's
 * close) or whatever the runtime threw, with the operation's site and
 * counts. A runtime error after this side closed is a
 * {@linkcode ClosedError}, with the runtime's error as `cause`. Internal:
 * conn, write queue, listener and dial use it.
 */
export function toNetError(
  failure: unknown,
  site: OpSite,
  counts: OpCounts = {},
  closed = false,
): NetError {
  if (failure instanceof NetError) return failure;
  if (failure instanceof Interrupt) {
    switch (failure.kind) {
      case "deadline":
        return new TimeoutError({ ...site, ...counts });
      case "abort":
        return fromAbortReason(failure.reason, site, counts);
      case "closed":
        return new ClosedError({ ...site, ...counts });
    }
  }
  if (closed) return new ClosedError({ ...site, ...counts, cause: failure });
  return fromRuntimeError(failure, site, counts);
}

const RUNTIME_KINDS: [new (...args: never[]) => Error, NetErrorKind, string][] = [
  [Deno.errors.ConnectionRefused, "refused", "connection refused"],
  [Deno.errors.ConnectionReset, "reset", "connection reset by peer"],
  [Deno.errors.ConnectionAborted, "reset", "connection aborted"],
  [Deno.errors.BrokenPipe, "broken-pipe", "broken pipe"],
  [Deno.errors.AddrInUse, "addr-in-use", "address already in use"],
  [Deno.errors.AddrNotAvailable, "addr-not-available", "cannot assign requested address"],
  [Deno.errors.NetworkUnreachable, "unreachable", "network is unreachable"],
  [Deno.errors.TimedOut, "timeout", "i/o timeout"],
  [Deno.errors.InvalidData, "tls", ""],
  [Deno.errors.UnexpectedEof, "tls", "unexpected EOF"],
];

/** Maps an error thrown by the Deno runtime to a {@linkcode NetError} with the given site and counts. */
function fromRuntimeError(error: unknown, site: OpSite, counts: OpCounts): NetError {
  const options = { ...site, ...counts, cause: error };
  for (const [type, kind, detail] of RUNTIME_KINDS) {
    if (!(error instanceof type)) continue;
    if (kind === "timeout") return new TimeoutError(options);
    // TLS failures are told apart only by the runtime's message: keep it.
    const text = kind === "tls" ? `tls: ${detail || (error as Error).message}` : detail;
    return new NetError(text, { ...options, kind });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/failed to lookup address|Name or service not known|No address associated/i.test(message)) {
    return new NetError(`lookup: ${message}`, { ...options, kind: "lookup" });
  }
  if (/No route to host|Host is unreachable/i.test(message)) {
    return new NetError(message, { ...options, kind: "unreachable" });
  }
  return new NetError(message, options);
}

/**
 * The error for an operation that an `AbortSignal` ended: a
 * {@linkcode TimeoutError} when the reason is a `"TimeoutError"` (as from
 * `AbortSignal.timeout`), else a NetError of kind `"aborted"`. Either way the
 * reason is kept, untouched, as `cause`.
 */
function fromAbortReason(reason: unknown, site: OpSite, counts: OpCounts): NetError {
  const options = { ...site, ...counts, cause: reason };
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new TimeoutError(options);
  }
  return new NetError("operation aborted", { ...options, kind: "aborted" });
}
