// A subprocess for tests/conn_options_test.ts, run with fewer permissions or
// other flags than the tests have. It prints one line of JSON on stdout.
//
//   deno run --allow-net tests/_conn_options_child.ts no-ffi
//     Conn's FFI-backed setters and socketOptions(), and dial/listen with a
//     keepalive period, each as { name, kind, message } of what they threw;
//     whether plain dial/listen work. Then it keeps its conns open until
//     stdin ends, so that the parent can look at their sockets.
//   deno run --allow-net [--unstable-net] tests/_conn_options_child.ts reuse-port
//     Two listeners with reusePort on one port, and how many of 32 dials
//     each accepted; or what listen threw.

import { type Conn, dial, listen, type Listener } from "../mod.ts";
import { sockoptSupported } from "../sockopt/mod.ts";

type Outcome = "no error" | { name: string; kind: unknown; message: string };

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

async function noFfi(): Promise<void> {
  const ln = listen("127.0.0.1:0");
  const [client, server] = await Promise.all([dial(ln.addr), ln.accept()]);
  const setters: Record<string, Outcome> = {
    setKeepAlivePeriod: attempt(() => client.setKeepAlivePeriod(30_000)),
    setKeepAliveConfig: attempt(() => client.setKeepAliveConfig({ enable: true })),
    setLinger: attempt(() => client.setLinger(0)),
    setReadBuffer: attempt(() => server.setReadBuffer(65_536)),
    setWriteBuffer: attempt(() => client.setWriteBuffer(65_536)),
    socketOptions: attempt(() => client.socketOptions()),
  };
  const plain: Record<string, Outcome> = {
    setNoDelay: attempt(() => {
      client.setNoDelay(false);
      client.setNoDelay(true);
    }),
    setKeepAlive: attempt(() => {
      client.setKeepAlive(false);
      client.setKeepAlive(true);
    }),
  };
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
    supported: sockoptSupported(),
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

const mode = Deno.args[0];
if (mode === "no-ffi") await noFfi();
else if (mode === "reuse-port") await reusePort();
else throw new Error(`Unknown mode "${mode}": want no-ffi or reuse-port`);
