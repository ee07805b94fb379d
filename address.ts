/**
 * Go's TCP address syntax: `"host:port"`, `"[::1]:80"`, `":8001"`.
 *
 * @module
 */

import { describe, quote } from "./_check.ts";
import { NetError } from "./errors.ts";

/**
 * An address as {@linkcode dial} and {@linkcode listen} take it: a string in
 * Go's syntax, or an object like `Deno.NetAddr` (whose `hostname` may be left
 * out for the local host).
 */
export type Address = string | { hostname?: string; port: number };

/**
 * A unix socket address, as `Deno.connect` and `Deno.listen` take it:
 * `{ transport: "unix", path: "/run/app.sock" }`.
 */
export interface UnixAddress {
  /** Always `"unix"`. */
  transport: "unix";
  /** The socket file's path. */
  path: string;
}

/** Is `address` a {@linkcode UnixAddress} (by its `transport`)? */
export function isUnixAddress(address: unknown): address is UnixAddress {
  return typeof address === "object" && address !== null &&
    (address as { transport?: unknown }).transport === "unix";
}

/**
 * Checks a unix address: a non-empty path string without NUL bytes (except
 * a leading one, Linux's abstract namespace).
 *
 * @throws {NetError} of kind `"invalid-address"` when it is malformed.
 */
export function checkUnixAddress(address: UnixAddress, op: "dial" | "listen"): string {
  const path = (address as { path?: unknown }).path;
  if (typeof path !== "string" || path === "") {
    throw new NetError(`unix address needs a path: received ${describe(path)}`, {
      op,
      net: "unix",
      kind: "invalid-address",
    });
  }
  if (path.indexOf("\0", 1) >= 0) {
    throw new NetError(`address ${quote(path)}: unix path contains a NUL byte`, {
      op,
      net: "unix",
      kind: "invalid-address",
    });
  }
  return path;
}

/** A parsed address: a hostname (empty for "unspecified") and a port. */
export interface HostPort {
  /** The host name or IP literal, without brackets; "" when the address left it out. */
  hostname: string;
  /** The port, 0 to 65535. */
  port: number;
}

/**
 * Splits and checks an address as Go's `net.SplitHostPort` does, plus the
 * port range. IPv6 literals must be bracketed; the port must be a decimal
 * number from 0 to 65535 (an empty port is 0, as in Go).
 *
 * @throws {NetError} of kind `"invalid-address"` when the address is malformed.
 */
export function parseAddress(address: Address, op: "dial" | "listen"): HostPort {
  if (typeof address === "object" && address !== null) {
    const transport = (address as { transport?: unknown }).transport;
    if (transport !== undefined && transport !== "tcp") {
      throw new NetError(
        `transport must be "tcp" or "unix": received ${describe(transport)}`,
        { op, kind: "invalid-address" },
      );
    }
    const hostname = address.hostname ?? "";
    if (typeof hostname !== "string") {
      throw invalid(
        op,
        String(hostname),
        `hostname must be a string: received ${describe(hostname)}`,
      );
    }
    checkPort(address.port, op, `${hostname}:${address.port}`);
    const host = unbracket(hostname);
    checkHost(host, op, `${hostname}:${address.port}`);
    return { hostname: host, port: address.port };
  }
  if (typeof address !== "string") {
    throw invalid(
      op,
      String(address),
      `want a string or { hostname, port }: received ${describe(address)}`,
    );
  }
  const colon = address.lastIndexOf(":");
  if (colon < 0) throw invalid(op, address, "missing port in address");
  let host: string;
  if (address.startsWith("[")) {
    const close = address.indexOf("]");
    if (close < 0) throw invalid(op, address, "missing ']' in address");
    if (close + 1 !== colon) throw invalid(op, address, "unexpected text after ']' in address");
    host = address.slice(1, close);
    if (host.includes("[") || host.includes("]")) {
      throw invalid(op, address, "unexpected '[' or ']' in address");
    }
  } else {
    host = address.slice(0, colon);
    if (host.includes(":")) throw invalid(op, address, "too many colons in address");
    if (host.includes("[") || host.includes("]")) {
      throw invalid(op, address, "unexpected '[' or ']' in address");
    }
  }
  const portText = address.slice(colon + 1);
  // Decimal digits only (Go also looks up service names; netconn does not).
  // Leading zeros are fine, as in Go: "080" is port 80.
  if (portText !== "" && !/^[0-9]+$/.test(portText)) {
    throw invalid(op, address, `invalid port ${quote(portText)}`);
  }
  const port = portText === "" ? 0 : Number(portText);
  if (port > 65535) {
    throw invalid(op, address, `invalid port ${quote(portText)}: want an integer from 0 to 65535`);
  }
  checkHost(host, op, address);
  return { hostname: host, port };
}

/**
 * Joins a host and port as Go's `net.JoinHostPort`: IPv6 literals in brackets.
 */
export function joinHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * NetAddr is a TCP address as netconn hands it out (`localAddr`,
 * `remoteAddr`, `Listener.addr`): a `Deno.NetAddr` that prints as Go prints
 * one. `String(addr)` and `${addr}` give `host:port` (`[::1]:80`), and
 * `console.log` shows `tcp 127.0.0.1:80`. An IPv4-mapped IPv6 host
 * (`::ffff:1.2.3.4`, as a dual-stack listener reports IPv4 peers) is shown as
 * plain IPv4, as Go does.
 */
class NetAddr implements Deno.NetAddr {
  readonly transport: "tcp";
  readonly hostname: string;
  readonly port: number;

  constructor(hostname: string, port: number) {
    this.transport = "tcp";
    this.hostname = hostname;
    this.port = port;
  }

  /** `host:port`, IPv6 in brackets, as Go's `Addr.String()`. */
  toString(): string {
    return joinHostPort(this.hostname, this.port);
  }

  [Symbol.for("Deno.customInspect")](): string {
    return `${this.transport} ${this.toString()}`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `${this.transport} ${this.toString()}`;
  }
}

/**
 * UnixAddr is a unix socket address as netconn hands it out: a
 * `Deno.UnixAddr` that prints as its path, as Go prints one. The unnamed end
 * of a connection (a client that did not bind) has the path `""`.
 */
class UnixAddr implements Deno.UnixAddr {
  readonly transport: "unix";
  readonly path: string;

  constructor(path: string | null) {
    this.transport = "unix";
    this.path = path ?? "";
  }

  /** The path, as Go's `UnixAddr.String()`. */
  toString(): string {
    return this.path;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return `unix ${this.path}`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `unix ${this.path}`;
  }
}

/**
 * PipeAddr is the address of both ends of a {@linkcode pipe}, as Go's
 * `pipeAddr`: its network and its text are both `pipe`. `String(addr)` is
 * `"pipe"`, and so is what `console.log` shows.
 */
export interface PipeAddr {
  /** Always `"pipe"`. */
  readonly transport: "pipe";
}

/** The printable {@linkcode PipeAddr}. */
class PipeAddress implements PipeAddr {
  readonly transport = "pipe";

  /** `pipe`, as Go's `pipeAddr.String()`. */
  toString(): string {
    return "pipe";
  }

  [Symbol.for("Deno.customInspect")](): string {
    return "pipe";
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "pipe";
  }
}

/** Is `addr` a {@linkcode PipeAddr} (by its `transport`)? */
export function isPipeAddr(addr: unknown): addr is PipeAddr {
  return typeof addr === "object" && addr !== null &&
    (addr as { transport?: unknown }).transport === "pipe";
}

/**
 * The address as netconn hands it out: printable, with an IPv4-mapped IPv6
 * host shown as plain IPv4, as Go does. A TLS conn's address (which
 * `Deno.startTls` hands out without a `transport`) is a TCP address; a
 * pipe's is a {@linkcode PipeAddr}.
 */
export function normalizeAddr(addr: Deno.NetAddr): Deno.NetAddr;
export function normalizeAddr(addr: Deno.Addr): Deno.Addr;
export function normalizeAddr(addr: Deno.Addr | PipeAddr): Deno.Addr | PipeAddr;
export function normalizeAddr(addr: Deno.Addr | PipeAddr): Deno.Addr | PipeAddr {
  if (isPipeAddr(addr)) return new PipeAddress();
  if (!("hostname" in addr)) return new UnixAddr((addr as { path: string | null }).path);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr.hostname);
  return new NetAddr(mapped === null ? addr.hostname : mapped[1]!, addr.port);
}

/** An address as error messages show it: `host:port`, a unix path, or `pipe`. */
export function formatAddr(addr: Deno.Addr | PipeAddr): string {
  return String(normalizeAddr(addr));
}

function checkPort(port: unknown, op: "dial" | "listen", address: string): void {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(op, address, `invalid port ${describe(port)}: want an integer from 0 to 65535`);
  }
}

/**
 * Rejects hosts no lookup could resolve, which the runtime would report as
 * an unclassified error: whitespace, control characters, brackets, and a
 * colon outside an IPv6 literal (`{ hostname: "127.0.0.1:80" }`).
 */
function checkHost(host: string, op: "dial" | "listen", address: string): void {
  if (/[\s\p{Cc}[\]]/u.test(host)) {
    throw invalid(op, address, `invalid host ${quote(host)}`);
  }
  if (host.includes(":") && !/^(?=(?:[^:]*:){2})[0-9a-f:.]+(?:%[^%]+)?$/i.test(host)) {
    throw invalid(op, address, `invalid host ${quote(host)}: a colon outside an IPv6 literal`);
  }
}

function unbracket(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

function invalid(op: "dial" | "listen", address: string, detail: string): NetError {
  return new NetError(`address ${quote(address)}: ${detail}`, { op, kind: "invalid-address" });
}
