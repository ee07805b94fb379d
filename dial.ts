/**
 * dial: connect to a TCP address, as Go's `net.Dial` / `net.DialTimeout`.
 *
 * @module
 */

import { type Address, joinHostPort, parseAddress } from "./address.ts";
import { checkConnOptions, Conn, type ConnOptions } from "./conn.ts";
import { NetError, TimeoutError, toNetError } from "./errors.ts";
import { checkFiniteOption, checkOptions, checkSignal, optionError } from "./_check.ts";
import { MAX_TIMER_MS } from "./_timers.ts";
import { Interrupt } from "./_wait.ts";

/** Options for {@linkcode dial}: a timeout or signal, and the new conn's options. */
export interface DialOptions extends ConnOptions {
  /**
   * Milliseconds to wait for the connection, as Go's `DialTimeout`; 0 for no
   * limit beyond the OS's own; negative, as in Go, for a limit already
   * passed. A dial that runs out fails with a {@linkcode TimeoutError}.
   *
   * @default {0}
   */
  timeout?: number;
  /** Ends the dial early: it fails with a NetError of kind `"aborted"` whose `cause` is the reason. */
  signal?: AbortSignal;
}

/**
 * Connects to a TCP address, as Go's `net.Dial("tcp", address)`.
 *
 * The address is Go's syntax, `"host:port"`, `"[::1]:8001"`, or `":8001"`
 * for the local system (127.0.0.1), or an object like `Deno.NetAddr`. The
 * conn comes with Go's defaults: Nagle off (`noDelay`), keepalive on.
 *
 * A port nobody listens on fails at once with a NetError of kind
 * `"refused"`. A listener whose backlog is full leaves the dial hanging
 * until `timeout` (a {@linkcode TimeoutError}) or `signal` ends it.
 *
 * @param address Where to connect.
 * @param options Timeout, signal and socket options.
 * @returns The connected {@linkcode Conn}.
 * @throws {NetError} Kind `"invalid-address"` for a malformed address, port
 *   0 or a port out of range (before any network I/O); `"refused"`,
 *   `"unreachable"`, `"lookup"` and others from the OS; `"aborted"` when
 *   `signal` fires.
 * @throws {TimeoutError} When `timeout` runs out or is negative (or `signal`
 *   fires with a timeout reason).
 * @throws {TypeError} When an option has the wrong type (`signal` not an
 *   AbortSignal, `noDelay` not a boolean...), before any network I/O.
 * @throws {RangeError} When `timeout` is NaN or infinite.
 * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
 *
 * @example Dial with a timeout
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using conn = await dial(`127.0.0.1:${ln.addr.port}`, { timeout: 5000 });
 * await using peer = await ln.accept();
 * assert.equal(conn.remoteAddr.port, ln.addr.port);
 * assert.equal(peer.remoteAddr.port, conn.localAddr.port);
 * ```
 */
export async function dial(address: Address, options?: DialOptions): Promise<Conn> {
  const checked = checkOptions(options, "dial");
  const { timeout = 0, signal } = checked;
  if (typeof timeout !== "number") throw optionError("dial", "timeout", "milliseconds", timeout);
  checkFiniteOption(timeout, "dial", "timeout");
  checkSignal(signal, "dial");
  const connOptions = checkConnOptions(checked, "dial");
  const parsed = parseAddress(address, "dial");
  const hostname = parsed.hostname === "" ? "127.0.0.1" : parsed.hostname;
  const addr = joinHostPort(hostname, parsed.port);
  if (parsed.port === 0) {
    throw new NetError(`address "${addr}": port 0 cannot be dialed`, {
      op: "dial",
      kind: "invalid-address",
    });
  }
  const site = { op: "dial" as const, addr };
  // A negative timeout is a limit already passed, as in Go.
  if (timeout < 0) throw new TimeoutError(site);
  if (signal?.aborted) throw toNetError(new Interrupt("abort", signal.reason), site);

  const controller = new AbortController();
  let timedOut = false;
  // setTimeout fires at once for delays over 2^31 - 1 ms (24.8 days); every
  // OS gives up a connect long before that, so such a timeout is no limit.
  const timer = timeout > 0 && timeout <= MAX_TIMER_MS
    ? setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout)
    : undefined;
  const onAbort = (): void => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let raw: Deno.TcpConn;
  try {
    raw = await Deno.connect({
      hostname,
      port: parsed.port,
      transport: "tcp",
      signal: controller.signal,
    });
  } catch (e) {
    if (timedOut) throw new TimeoutError({ ...site, cause: e });
    if (signal?.aborted) throw toNetError(new Interrupt("abort", signal.reason), site);
    throw toNetError(e, site);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  return new Conn(raw, connOptions);
}
