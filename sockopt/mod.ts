/**
 * `@netconn/netconn/sockopt`: the socket options Deno lacks, with Go's
 * semantics, for raw Deno conns and listeners: keep-alive period and config,
 * linger, buffer sizes, and a read-back of what the kernel chose. A netconn
 * `Conn` has the same options as methods.
 *
 * The options go through libc with `Deno.dlopen`: they need `--allow-ffi`
 * and Linux or macOS, and throw {@linkcode NotSupportedError} naming what is
 * missing otherwise. Each option takes the socket as a {@linkcode SocketRef}:
 * a conn or listener, whose file descriptor is looked up (and verified
 * against its addresses) on every call, or an fd number from
 * {@linkcode connFd} / {@linkcode listenerFd}, to be used in the same
 * synchronous turn: an fd number outlives its socket and may be reused.
 *
 * @example Set a conn's keep-alive and read it back
 * ```ts
 * import { setKeepAliveConfig, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * setKeepAliveConfig(conn, { enable: true, idle: 30_000 });
 * const options = socketOptions(conn);
 * assert.equal(options.keepAlive, true);
 * assert.equal(options.keepAliveIdle, 30_000);
 * assert.equal(options.keepAliveInterval, 15_000);
 * assert.equal(options.keepAliveCount, 9);
 * ```
 *
 * @module
 */

export * from "./options.ts";
