/**
 * Listener limits: the backlog Go would pass to listen(2), and whether Deno
 * may be asked for `reusePort`. Used by `listen` in the conn core.
 *
 * @module
 */

import { NotSupportedError } from "../errors.ts";
import { libc, libcAvailable, readFirstLine, sysctlUint32 } from "./libc.ts";
import { INT_MAX } from "./set.ts";

const SOMAXCONN_PATH = "/proc/sys/net/core/somaxconn";
/** Linux's somaxconn default since 5.4, used when the file cannot be read. */
const LINUX_FALLBACK = 4096;
/** Go's syscall.SOMAXCONN on macOS and the BSDs. */
const BSD_FALLBACK = 128;

/**
 * maxListenerBacklog returns the listen backlog Go would use: the OS's
 * maximum. On Linux it reads `/proc/sys/net/core/somaxconn`; on macOS the
 * `kern.ipc.somaxconn` sysctl (capped at 65535, as Go does).
 *
 * Like Go, it reads the value once per process.
 *
 * Reading it needs `--allow-ffi` (the file is read through libc, because
 * Deno 2.9 reads `/proc/sys` only under `--allow-all`) or `--allow-all`;
 * permissions are queried, so nothing prompts. Fallbacks, when the value
 * cannot be read or is 0: on Linux 4096, the kernel's default since 5.4 (Go
 * falls back to 128, but a backlog above the OS's maximum is harmless:
 * listen(2) silently lowers it to somaxconn); on macOS 128; elsewhere Go's
 * `SOMAXCONN` for the platform (Windows 2147483647, others 128).
 *
 * @returns The backlog, an integer from 1 to 2147483647.
 *
 * @example Listen with Go's backlog
 * ```ts
 * import { maxListenerBacklog } from "./listen.ts";
 * import assert from "node:assert/strict";
 *
 * const backlog = maxListenerBacklog();
 * assert.ok(Number.isInteger(backlog) && backlog > 0);
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: backlog });
 * assert.equal(ln.addr.transport, "tcp");
 * ```
 */
export function maxListenerBacklog(): number {
  switch (Deno.build.os) {
    case "linux":
      return linuxSomaxconn() ?? LINUX_FALLBACK;
    case "darwin": {
      const n = libcAvailable()
        ? sysctlUint32(libc("maxListenerBacklog"), "kern.ipc.somaxconn")
        : 0;
      return n === undefined || n === 0 ? BSD_FALLBACK : Math.min(n, 0xffff);
    }
    case "windows":
      return INT_MAX;
    default:
      return BSD_FALLBACK;
  }
}

// Go reads somaxconn once per process; so does this.
let somaxconn: number | undefined;

function linuxSomaxconn(): number | undefined {
  if (somaxconn !== undefined) return somaxconn;
  const line = readSomaxconn();
  const field = line?.trim().split(/\s+/)[0] ?? "";
  if (!/^\d+$/.test(field) || Number(field) === 0) return undefined;
  somaxconn = Math.min(Number(field), INT_MAX);
  return somaxconn;
}

// Through libc when FFI is allowed (Deno 2.9 reads /proc/sys only with
// --allow-all), else through Deno when reading is allowed; nothing prompts.
function readSomaxconn(): string | undefined {
  if (libcAvailable()) return readFirstLine(libc("maxListenerBacklog"), SOMAXCONN_PATH);
  const read = Deno.permissions.querySync({ name: "read", path: SOMAXCONN_PATH });
  if (read.state !== "granted") return undefined;
  try {
    return Deno.readTextFileSync(SOMAXCONN_PATH);
  } catch {
    return undefined; // NotCapable without --allow-all
  }
}

/**
 * checkReusePort throws unless `Deno.listen({ reusePort: true })` is safe to
 * call. Without the `--unstable-net` flag (or `"unstable": ["net"]` in
 * deno.json) that call makes Deno exit the process with code 70, which no
 * `catch` can stop. The flag is detected without calling it: the same flag
 * exposes `Deno.listenDatagram`.
 *
 * `reusePort` sets `SO_REUSEPORT` on Linux (the kernel spreads connections
 * over every listener on the port); on other platforms Deno shares one
 * socket among the listeners of the process.
 *
 * @throws {NotSupportedError} When `--unstable-net` is not given; the
 * message names the flag.
 *
 * @example Ask for reusePort only when Deno allows it
 * ```ts
 * import { checkReusePort } from "./listen.ts";
 * import assert from "node:assert/strict";
 *
 * let reusePort = true;
 * try {
 *   checkReusePort();
 * } catch (error) {
 *   assert.ok(String(error).includes("--unstable-net"));
 *   reusePort = false;
 * }
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort });
 * assert.ok(ln.addr.port > 0);
 * ```
 */
export function checkReusePort(): void {
  if (typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function") return;
  throw new NotSupportedError(
    "reusePort needs the --unstable-net flag: without it Deno exits the process on listen",
    { op: "listen" },
  );
}
