/**
 * A small Redis-protocol (RESP) server on `serve()`: PING, SET, GET (and
 * CONFIG GET, answered empty, as redis-benchmark asks for it), pipelining
 * included. `redis-benchmark` and `redis-cli` talk to it.
 *
 *     deno run --allow-net examples/resp_server.ts [port]
 *     redis-benchmark -p 6380 -c 50 -n 100000 -t ping,set,get
 *
 * Ctrl-C or SIGTERM shuts it down gracefully: idle clients are closed at
 * once, busy ones get 5 s.
 *
 * {@linkcode respSession} is the protocol alone, over any `read`/`write`
 * conn: bench/resp.ts runs the same code on raw `Deno.listen` to price
 * `serve()`.
 *
 * @module
 */

import { serve, type Server } from "../mod.ts";

/** What a session reads from and writes to: a netconn Conn or a raw Deno conn. */
export interface Duplex {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
}

/** The longest request a client may send: its commands up to this size, whole. */
const MAX_REQUEST = 1 << 20;
/** The most arguments a command may have. */
const MAX_ARGS = 1024;

const encoder = new TextEncoder();
const PONG = encoder.encode("+PONG\r\n");
const OK = encoder.encode("+OK\r\n");
const NIL = encoder.encode("$-1\r\n");
const EMPTY_ARRAY = encoder.encode("*0\r\n");
const CR = 13;
const LF = 10;

/** A request that is not RESP, or too large: the session answers an error and ends. */
class ProtocolError extends Error {}

/** Where a parsed command ends, and its arguments (views into the read buffer). */
interface Parsed {
  args: Uint8Array[];
  next: number;
}

/**
 * Parses one command from `buf[at..end]`: a RESP array of bulk strings, or
 * an inline command (`PING\r\n`). Null when it has not all arrived.
 *
 * @throws {ProtocolError} For what is not RESP or breaks a limit.
 */
function parseCommand(buf: Uint8Array, at: number, end: number): Parsed | null {
  if (buf[at] !== 0x2a) return parseInline(buf, at, end); // not "*"
  const header = parseLine(buf, at + 1, end);
  if (header === null) return null;
  const count = header.value;
  if (count < 0 || count > MAX_ARGS) throw new ProtocolError(`bad argument count ${count}`);
  const args: Uint8Array[] = [];
  let pos = header.next;
  for (let i = 0; i < count; i++) {
    if (pos >= end) return null;
    if (buf[pos] !== 0x24) throw new ProtocolError("expected a bulk string"); // "$"
    const len = parseLine(buf, pos + 1, end);
    if (len === null) return null;
    if (len.value < 0 || len.value > MAX_REQUEST) {
      throw new ProtocolError(`bad bulk length ${len.value}`);
    }
    const stop = len.next + len.value;
    if (stop + 2 > end) return null;
    if (buf[stop] !== CR || buf[stop + 1] !== LF) throw new ProtocolError("bulk without CRLF");
    args.push(buf.subarray(len.next, stop));
    pos = stop + 2;
  }
  return { args, next: pos };
}

/** An integer line (`123\r\n`) from `at`; null when it has not all arrived. */
function parseLine(
  buf: Uint8Array,
  at: number,
  end: number,
): { value: number; next: number } | null {
  let value = 0;
  let sign = 1;
  let i = at;
  if (buf[i] === 0x2d) { // "-"
    sign = -1;
    i++;
  }
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === CR) {
      if (i + 1 >= end) return null;
      if (buf[i + 1] !== LF || i === at) throw new ProtocolError("bad line");
      return { value: sign * value, next: i + 2 };
    }
    if (c < 0x30 || c > 0x39 || i - at > 10) throw new ProtocolError("bad number");
    value = value * 10 + (c - 0x30);
  }
  return null;
}

/** An inline command: words separated by spaces, ended by LF. */
function parseInline(buf: Uint8Array, at: number, end: number): Parsed | null {
  const lf = buf.subarray(at, end).indexOf(LF);
  if (lf < 0) return null;
  const stop = at + lf;
  const line = buf.subarray(at, stop > at && buf[stop - 1] === CR ? stop - 1 : stop);
  const args: Uint8Array[] = [];
  let word = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === 0x20) {
      if (i > word) args.push(line.subarray(word, i));
      word = i + 1;
    }
  }
  if (args.length > MAX_ARGS) throw new ProtocolError("too many arguments");
  return { args, next: stop + 1 };
}

/** The command's name, upper case. */
function commandName(arg: Uint8Array): string {
  let name = "";
  for (const c of arg) name += String.fromCharCode(c >= 0x61 && c <= 0x7a ? c - 32 : c);
  return name;
}

/** A key as a map key: its bytes as a latin1 string. */
function keyOf(arg: Uint8Array): string {
  let key = "";
  for (let i = 0; i < arg.length; i += 4096) {
    key += String.fromCharCode(...arg.subarray(i, i + 4096));
  }
  return key;
}

/** A bulk string reply. */
function bulk(value: Uint8Array): Uint8Array {
  const header = encoder.encode(`$${value.length}\r\n`);
  const out = new Uint8Array(header.length + value.length + 2);
  out.set(header);
  out.set(value, header.length);
  out.set([CR, LF], header.length + value.length);
  return out;
}

/** The reply to one command. */
function reply(args: Uint8Array[], store: Map<string, Uint8Array>): Uint8Array {
  if (args.length === 0) return encoder.encode("-ERR empty command\r\n");
  const name = commandName(args[0]!);
  switch (name) {
    case "PING":
      if (args.length === 1) return PONG;
      if (args.length === 2) return bulk(args[1]!);
      break;
    case "SET":
      if (args.length === 3) {
        store.set(keyOf(args[1]!), args[2]!.slice());
        return OK;
      }
      break;
    case "GET":
      if (args.length === 2) {
        const value = store.get(keyOf(args[1]!));
        return value === undefined ? NIL : bulk(value);
      }
      break;
    case "CONFIG":
      // redis-benchmark asks for "save" and "appendonly": no such settings here.
      if (args.length === 3 && commandName(args[1]!) === "GET") {
        return concat([encoder.encode("*2\r\n"), bulk(args[2]!), bulk(new Uint8Array(0))]);
      }
      return EMPTY_ARRAY;
    default:
      return encoder.encode(`-ERR unknown command '${name.slice(0, 32)}'\r\n`);
  }
  return encoder.encode(`-ERR wrong number of arguments for '${name.toLowerCase()}'\r\n`);
}

/** Writes all of `p`: a netconn write takes it whole, a raw Deno write may not. */
async function writeAll(conn: Duplex, p: Uint8Array): Promise<void> {
  for (let done = 0; done < p.length;) done += await conn.write(p.subarray(done));
}

/** Joins replies into one write. */
function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Serves RESP on one conn until the client closes: reads what has arrived,
 * answers every whole command in it with one write (pipelining), keeps a
 * partial command for the next read. A request that is not RESP, or larger
 * than 1 MiB, gets an error reply and ends the session.
 *
 * @param conn The conn.
 * @param store The keys and values, shared by every session.
 */
export async function respSession(conn: Duplex, store: Map<string, Uint8Array>): Promise<void> {
  let buf = new Uint8Array(16 * 1024);
  let start = 0; // buf[start..end] holds bytes read and not yet parsed
  let end = 0;
  for (;;) {
    if (end === buf.length) {
      if (start > 0) {
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      } else if (buf.length < MAX_REQUEST * 2) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      } else {
        await writeAll(conn, encoder.encode("-ERR Protocol error: request too large\r\n"));
        return;
      }
    }
    const n = await conn.read(buf.subarray(end));
    if (n === null) return;
    end += n;
    const replies: Uint8Array[] = [];
    try {
      for (let parsed = parseCommand(buf, start, end); parsed !== null;) {
        replies.push(reply(parsed.args, store));
        start = parsed.next;
        parsed = start < end ? parseCommand(buf, start, end) : null;
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      replies.push(encoder.encode(`-ERR Protocol error: ${e.message}\r\n`));
      await writeAll(conn, concat(replies));
      return;
    }
    if (start === end) start = end = 0;
    if (replies.length > 0) await writeAll(conn, concat(replies));
  }
}

/**
 * Starts the RESP server with `serve()`.
 *
 * @param address Where to listen.
 * @returns The server.
 */
export function serveResp(address: string): Server {
  const store = new Map<string, Uint8Array>();
  return serve(address, (conn) => respSession(conn, store));
}

if (import.meta.main) {
  const server = serveResp(`127.0.0.1:${Deno.args[0] ?? "6380"}`);
  console.log(`RESP server on ${server.addr}`);
  const stop = async (): Promise<void> => {
    const { finished, forced } = await server.shutdown({ timeout: 5000 });
    console.log(`stopped: ${finished} conns finished, ${forced} forced`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
