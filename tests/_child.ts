// A subprocess for the tests that need other permissions or flags than the
// test run has; started by runDeno (_kit/child.ts). It prints one line of
// JSON on stdout.
//
//   deno run --allow-net tests/_child.ts conn-no-ffi
//     Conn's FFI-backed setters and socketOptions(), and dial/listen with a
//     keepalive period, each as the Outcome of the call; whether plain
//     dial/listen work. Then it keeps its conns open until stdin ends, so
//     that the parent can look at their sockets.
//   deno run --allow-net [--unstable-net] tests/_child.ts reuse-port
//     Two listeners with reusePort on one port, and how many of 32 dials
//     each accepted; or what listen threw.
//   deno run --allow-net tests/_child.ts sockopt-no-ffi
//     Every function of ./sockopt on raw Deno sockets, each as the Outcome
//     of the call; sockoptSupported() and maxListenerBacklog().
//   deno run --allow-net [--unstable-net] tests/_child.ts check-reuse-port
//     Whether checkReusePort() passes and Deno.listen with reusePort then
//     survives, or what was thrown.

import { type Conn, dial, listen, type Listener } from "../mod.ts";
import * as so from "../sockopt/mod.ts";
import { releaseFd } from "../_sys/fd.ts";
import { checkReusePort, maxListenerBacklog } from "../_sys/listen.ts";

/** How a call in the child ended. */
export type Outcome = "no error" | { name: string; kind: unknown; message: string };

function outcome(e: unknown): Outcome {
  if (!(e instanceof Error)) return { name: typeof e, kind: undefined, message: String(e) };
  return { name: e.name, kind: (e as { kind?: unknown }).kind, message: e.message };
}

function attempt(call: () => unknown): Outcome {
  try {
    call();
    return "no error";
  } catch (e) {
    return outcome(e);
  }
}

function attemptAll(calls: Record<string, () => unknown>): Record<string, Outcome> {
  return Object.fromEntries(Object.entries(calls).map(([name, call]) => [name, attempt(call)]));
}

async function connNoFfi(): Promise<void> {
  const ln = listen("127.0.0.1:0");
  const [client, server] = await Promise.all([dial(ln.addr), ln.accept()]);
  const setters = attemptAll({
    setKeepAlivePeriod: () => client.setKeepAlivePeriod(30_000),
    setKeepAliveConfig: () => client.setKeepAliveConfig({ enable: true }),
    setLinger: () => client.setLinger(0),
    setReadBuffer: () => server.setReadBuffer(65_536),
    setWriteBuffer: () => client.setWriteBuffer(65_536),
    socketOptions: () => client.socketOptions(),
  });
  const plain = attemptAll({
    setNoDelay: () => {
      client.setNoDelay(false);
      client.setNoDelay(true);
    },
    setKeepAlive: () => {
      client.setKeepAlive(false);
      client.setKeepAlive(true);
    },
  });
  const dialPeriod = await dial(ln.addr, { keepAlive: 30_000 }).then(
    (c): Outcome => (c.close(), "no error"),
    outcome,
  );
  const listenPeriod = attempt(() => listen("127.0.0.1:0", { keepAlive: 30_000 }).close());
  await client.write(new TextEncoder().encode("hello"));
  const buf = new Uint8Array(16);
  const n = await server.read(buf);
  const echoed = new TextDecoder().decode(buf.subarray(0, n ?? 0));
  console.log(JSON.stringify({
    supported: so.sockoptSupported(),
    setters,
    plain,
    dialPeriod,
    listenPeriod,
    echoed,
    client: { local: client.localAddr.port, remote: client.remoteAddr.port },
    server: { local: server.localAddr.port, remote: server.remoteAddr.port },
  }));
  // The parent reads the sockets' keepalive timers from /proc/net/tcp now.
  for await (const _ of Deno.stdin.readable);
  client.close();
  server.close();
  await ln[Symbol.asyncDispose]();
}

async function reusePort(): Promise<void> {
  let listeners: Listener[];
  try {
    const first = listen("127.0.0.1:0", { reusePort: true });
    listeners = [first, listen(`127.0.0.1:${first.addr.port}`, { reusePort: true })];
  } catch (e) {
    console.log(JSON.stringify({ error: outcome(e) }));
    return;
  }
  const counts = listeners.map(() => 0);
  const serving = listeners.map(async (ln, i) => {
    for await (const conn of ln) {
      counts[i]!++;
      conn.close();
    }
  });
  const dials = 32;
  for (let i = 0; i < dials; i++) {
    const conn: Conn = await dial(listeners[0]!.addr);
    await conn.read(new Uint8Array(1)); // EOF once one of the listeners has served it
    conn.close();
  }
  for (const ln of listeners) ln.close();
  await Promise.all(serving);
  console.log(JSON.stringify({ ports: listeners.map((ln) => ln.addr.port), dials, counts }));
}

async function sockoptNoFfi(): Promise<void> {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port });
  const peer = await ln.accept();
  const errors = attemptAll({
    connFd: () => so.connFd(conn),
    listenerFd: () => so.listenerFd(ln),
    setKeepAlivePeriod: () => so.setKeepAlivePeriod(conn, 1000),
    setKeepAliveConfig: () => so.setKeepAliveConfig(peer, { enable: true }),
    setLinger: () => so.setLinger(conn, 0),
    setReadBuffer: () => so.setReadBuffer(ln, 4096),
    setWriteBuffer: () => so.setWriteBuffer(3, 4096),
    socketOptions: () => so.socketOptions(conn),
  });
  releaseFd(conn);
  const out = { errors, supported: so.sockoptSupported(), backlog: maxListenerBacklog() };
  conn.close();
  peer.close();
  ln.close();
  console.log(JSON.stringify(out));
}

function checkReusePortMode(): void {
  const listened = attempt(() => {
    checkReusePort();
    Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true }).close();
  });
  console.log(JSON.stringify({ listened }));
}

if (import.meta.main) {
  const mode = Deno.args[0];
  if (mode === "conn-no-ffi") await connNoFfi();
  else if (mode === "reuse-port") await reusePort();
  else if (mode === "sockopt-no-ffi") await sockoptNoFfi();
  else if (mode === "check-reuse-port") checkReusePortMode();
  else throw new Error(`Unknown mode "${mode}"`);
}
