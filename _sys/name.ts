/**
 * Socket names for the fd lookup: a connected TCP socket is named
 * "<local> <remote>", a listening one "listen <local>", each address in one
 * canonical text (IPv4 and v4-mapped IPv6 as a.b.c.d, other IPv6 as eight
 * unpadded hex groups, zones dropped), so that what Deno reports and what
 * getsockname/getpeername return compare equal.
 *
 * @module
 */

import { ip16Text } from "./libc.ts";

/** What the fd lookup reads of a TCP conn: its two addresses. */
export interface ConnAddrs {
  /** The local address, as `Deno.Conn.localAddr`. */
  readonly localAddr: Deno.Addr;
  /** The remote address, as `Deno.Conn.remoteAddr`. */
  readonly remoteAddr: Deno.Addr;
}

/** What the fd lookup reads of a TCP listener: its address. */
export interface ListenerAddr {
  /** The address it listens at, as `Deno.Listener.addr`. */
  readonly addr: Deno.Addr;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/i;

function parseIPv4(text: string): number[] | null {
  const m = IPV4.exec(text);
  if (m === null) return null;
  const bytes = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  return bytes.every((b) => b <= 255) ? bytes : null;
}

/** The 16-byte form of an IP literal (IPv4 as v4-mapped), or null. */
export function parseIp(hostname: string): Uint8Array | null {
  const ip = new Uint8Array(16);
  const v4 = parseIPv4(hostname);
  if (v4 !== null) {
    ip[10] = ip[11] = 0xff;
    ip.set(v4, 12);
    return ip;
  }
  let text = hostname.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const tail = text.lastIndexOf(":");
  if (tail >= 0 && text.includes(".", tail)) { // embedded IPv4: ::ffff:1.2.3.4
    const b = parseIPv4(text.slice(tail + 1));
    if (b === null) return null;
    const high = ((b[0]! << 8) | b[1]!).toString(16);
    text = `${text.slice(0, tail + 1)}${high}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const rest = halves.length === 2 && halves[1] !== "" ? halves[1]!.split(":") : [];
  const zeros = 8 - head.length - rest.length;
  if (halves.length === 2 ? zeros < 1 : zeros !== 0) return null;
  const groups = [...head, ...Array<string>(zeros).fill("0"), ...rest];
  for (const [i, g] of groups.entries()) {
    if (!HEX_GROUP.test(g)) return null;
    const n = parseInt(g, 16);
    ip[2 * i] = n >> 8;
    ip[2 * i + 1] = n & 0xff;
  }
  return ip;
}

// The canonical text of an address; dotted IPv4 (Deno's usual form) is
// written straight back without building the 16 bytes.
function ipText(hostname: string): string | null {
  const v4 = parseIPv4(hostname);
  if (v4 !== null) return v4.join(".");
  const ip = parseIp(hostname);
  return ip === null ? null : ip16Text(ip, 0);
}

function netAddrKey(addr: Deno.Addr, what: string): string {
  if (addr.transport !== "tcp") {
    throw new TypeError(
      `Cannot find the fd of a "${addr.transport}" socket: only tcp is supported`,
    );
  }
  const text = ipText(addr.hostname);
  if (text === null) throw new TypeError(`Invalid ${what} address: "${addr.hostname}"`);
  return `${text}:${addr.port}`;
}

// A conn's or listener's addresses never change: its name is worked out once.
const names = new WeakMap<object, string>();

/**
 * The name worked out for this conn or listener, if a lookup ever asked for
 * it: undefined means no lookup ever indexed its socket.
 */
export function knownKey(socket: ConnAddrs | ListenerAddr): string | undefined {
  return names.get(socket);
}

/** The name of a connected TCP socket with these addresses. */
export function connKey(conn: ConnAddrs): string {
  let name = names.get(conn);
  if (name === undefined) {
    name = `${netAddrKey(conn.localAddr, "local")} ${netAddrKey(conn.remoteAddr, "remote")}`;
    names.set(conn, name);
  }
  return name;
}

/** The name of a listening TCP socket at this address. */
export function listenerKey(listener: ListenerAddr): string {
  let name = names.get(listener);
  if (name === undefined) {
    name = `listen ${netAddrKey(listener.addr, "listener")}`;
    names.set(listener, name);
  }
  return name;
}
