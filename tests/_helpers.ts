// The socket tests' own helpers, beside the shared kit (_kit/: pairs,
// bounded waits, bytes, child processes): writing until a write blocks,
// files under /proc, whether ::1 works, skipping a test whose real peer is
// not installed, and what a JavaScript caller passes where bytes go.

import assert from "node:assert/strict";
import { onPath } from "../_kit/child.ts";
import { PENDING, within } from "../_kit/wait.ts";

/** A file under /proc, read with cat: Deno reads /proc/sys only under --allow-all. */
export async function procText(path: string): Promise<string> {
  const { code, stdout } = await new Deno.Command("cat", { args: [path], stdout: "piped" })
    .output();
  assert.equal(code, 0, `cannot read ${path}`);
  return new TextDecoder().decode(stdout);
}

/** A number from a one-line file under /proc. */
export async function procNumber(path: string): Promise<number> {
  const text = (await procText(path)).trim();
  assert.match(text, /^\d+$/, `${path} holds a number`);
  return Number(text);
}

/** Whether this host can listen on ::1. */
export function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** How long a write that did not return must then stay pending to count as blocked. */
const STUCK_MS = 300; // longer than Linux's largest delayed-ACK delay (200 ms)
/** No loopback socket takes this much unread: a write loop that gets here never blocked. */
const NEVER_BLOCKS = 256 << 20;

/** What {@linkcode fillUntilBlocked} leaves. */
export interface Filled {
  /** The bytes of the writes that returned. */
  accepted: number;
  /**
   * The write that blocked. It settles when the peer reads or the conn
   * closes; it is marked handled, so await it for its outcome or leave it.
   */
  blocked: Promise<number>;
}

/**
 * Writes `chunk` (64 KiB) to `conn`, whose peer does not read, until a write
 * blocks: it has not returned within `wait` ms (from 20 ms) and then not
 * within 300 ms more. A write that returns late grows `wait` by 5/4, so a
 * busy machine is not taken for a full pipe. Fails the test if 256 MiB go
 * through without a block. Works on a netconn Conn and a raw Deno conn.
 */
export async function fillUntilBlocked(
  conn: { write(p: Uint8Array): Promise<number> },
  chunk: Uint8Array = new Uint8Array(64 * 1024),
): Promise<Filled> {
  let accepted = 0;
  let wait = 20;
  while (accepted < NEVER_BLOCKS) {
    const write = conn.write(chunk);
    let n = await within(write, wait);
    if (n === PENDING) {
      n = await within(write, STUCK_MS);
      if (n === PENDING) {
        write.catch(() => {});
        return { accepted, blocked: write };
      }
      wait = Math.ceil(wait * 5 / 4); // it returned late: a slow machine, not a full pipe
    }
    accepted += n;
  }
  return assert.fail(`writes of ${accepted} bytes to a peer that does not read never blocked`);
}

/**
 * Test options that skip a test, with a message once, when the real peer it
 * drives (`openssl`, `python3`) is not installed: `.ci/run` installs them,
 * and a machine with only Deno still runs everything else.
 */
export function needs(command: string): { ignore: boolean } {
  const missing = !onPath(command);
  if (missing && !warned.has(command)) {
    warned.add(command);
    console.warn(`${command} is not on PATH: the tests that drive it are skipped`);
  }
  return { ignore: missing };
}

const warned = new Set<string>();

/** What a JavaScript caller passes where bytes go: each must be a TypeError, nothing sent. */
export const NOT_BYTES: [string, unknown][] = [
  ["a string", "text"],
  ["null", null],
  ["undefined", undefined],
  ["an object", {}],
  ["a number", 5],
  ["an ArrayBuffer", new ArrayBuffer(4)],
  ["a DataView", new DataView(new ArrayBuffer(4))],
  ["a Uint16Array", new Uint16Array([0x4142, 0x4344])],
  ["an array", [1, 2, 3]],
  ["an array-like", { length: 3 }],
  ["an AbortController", new AbortController()],
];
