/**
 * Argument checks and error mapping shared by the setters of `options.ts`.
 * Messages: sentence case, values quoted, no trailing period.
 *
 * @module
 */

import { ClosedError, NetError } from "../errors.ts";
import { Errno, type Libc, setInt, sockAddrText } from "./libc.ts";
import { findConnFd, findListenerFd, type SocketRef } from "./fd.ts";

/** The largest C int: the limit of every int option. */
export const INT_MAX = 2 ** 31 - 1;
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
      `Socket must be a conn, a listener or a file descriptor: received "${String(fd)}"`,
    );
  }
  if (!Number.isInteger(fd) || fd < 0 || fd > INT_MAX) {
    throw new RangeError(`File descriptor must be an integer >= 0: received "${fd}"`);
  }
  return fd;
}

/** A finite number of milliseconds, any sign. */
export function checkDuration(ms: number, what: string): void {
  if (typeof ms !== "number") {
    throw new TypeError(`${what} must be a number of milliseconds: received "${String(ms)}"`);
  }
  if (!Number.isFinite(ms)) {
    throw new RangeError(`${what} must be a finite number of milliseconds: received "${ms}"`);
  }
}

/** An integer from min to INT_MAX. */
export function checkInteger(n: number, what: string, min: number): void {
  if (typeof n !== "number") {
    throw new TypeError(`${what} must be a number: received "${String(n)}"`);
  }
  if (!Number.isInteger(n) || n < min || n > INT_MAX) {
    const range = min === 0 ? "from 0 to 2147483647" : "up to 2147483647";
    throw new RangeError(`${what} must be an integer ${range}: received "${n}"`);
  }
}

/** An integer up to INT_MAX, any sign. */
export function checkCount(count: number): void {
  if (typeof count !== "number") {
    throw new TypeError(`Keepalive count must be a number: received "${String(count)}"`);
  }
  if (!Number.isInteger(count) || count > INT_MAX) {
    throw new RangeError(`Keepalive count must be an integer: received "${count}"`);
  }
}

// Rounds a positive duration up to whole seconds, as Go's roundDurationUp.
export function toSeconds(ms: number, what: string): number {
  const seconds = Math.ceil(ms / SECOND);
  if (seconds > INT_MAX) {
    throw new RangeError(`${what} is too long: received "${ms}" ms`);
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
