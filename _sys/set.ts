/**
 * Argument checks and error mapping shared by the setters of `options.ts`.
 * Messages in `_check.ts`'s one style: `<what> takes <kind>: received <value>`.
 *
 * @module
 */

import { ClosedError, NetError } from "../errors.ts";
import { Errno, type Libc, setInt, sockAddrText } from "./libc.ts";
import { findConnFd, findListenerFd, type SocketRef } from "./fd.ts";
import { checkInteger, describe } from "../_check.ts";

/** The largest C int: the limit of every int option. */
export const INT_MAX = 2 ** 31 - 1;
/** The smallest C int. */
const INT_MIN = -(2 ** 31);
/** Milliseconds in a second: the kernel counts keepalive and linger in seconds. */
export const SECOND = 1000;
/** The fd of a socket: looked up for a conn or listener, checked for a number. */
export function resolveFd(lib: Libc, socket: SocketRef): number {
  if (typeof socket === "object" && socket !== null) {
    return "addr" in socket ? findListenerFd(lib, socket) : findConnFd(lib, socket);
  }
  return checkFd(socket);
}

/** fd as a number, or a TypeError/RangeError. */
export function checkFd(fd: number): number {
  if (typeof fd !== "number") {
    throw new TypeError(
      `A socket option takes a conn, a listener or a file descriptor: received ${describe(fd)}`,
    );
  }
  checkInteger(fd, "A socket option's file descriptor", 0, INT_MAX);
  return fd;
}

/** A finite number of milliseconds, any sign. */
export function checkDuration(ms: number, what: string): void {
  if (typeof ms !== "number") {
    throw new TypeError(`${what} takes milliseconds: received ${describe(ms)}`);
  }
  if (!Number.isFinite(ms)) {
    throw new RangeError(`${what} takes a finite number of milliseconds: received ${describe(ms)}`);
  }
}

/** An int (C's): from INT_MIN to INT_MAX. */
export function checkInt(n: number, what: string, min: number = INT_MIN): void {
  checkInteger(n, what, min, INT_MAX);
}

// Rounds a positive duration up to whole seconds, as Go's roundDurationUp.
export function toSeconds(ms: number, what: string): number {
  const seconds = Math.ceil(ms / SECOND);
  if (seconds > INT_MAX) {
    throw new RangeError(`${what} is too long: received ${describe(ms)} ms`);
  }
  return seconds;
}

/** setInt, with failures mapped by setError; `value` is the caller's, so EINVAL is a RangeError. */
export function setOption(
  lib: Libc,
  fd: number,
  level: number,
  name: number,
  value: number,
  what: string,
): void {
  try {
    setInt(lib, fd, level, name, value);
  } catch (error) {
    throw setError(lib, fd, what, error, true);
  }
}

// The error for a failed setsockopt/getsockopt: EBADF means the fd is closed;
// EINVAL on a value the caller gave (`callerValue`) means the OS's range is
// narrower than the checks let through.
export function setError(
  lib: Libc,
  fd: number,
  what: string,
  error: unknown,
  callerValue = false,
): Error {
  if (!(error instanceof Errno)) return error as Error;
  if (error.errno === lib.c.EBADF) return new ClosedError({ op: "set", cause: error });
  if (error.errno === lib.c.EINVAL && callerValue) {
    return new RangeError(`${what} is out of range for this OS: ${error.message}`, {
      cause: error,
    });
  }
  const source = sockAddrText(lib, fd, "getsockname");
  const peer = sockAddrText(lib, fd, "getpeername");
  return new NetError(`${what}: ${error.message}`, {
    op: "set",
    ...(typeof source === "string" ? { source } : {}),
    ...(typeof peer === "string" ? { addr: peer } : {}),
    cause: error,
  });
}
