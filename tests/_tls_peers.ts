// TLS peers nobody here wrote: `openssl s_server` and `openssl s_client` as
// child processes on loopback, with the test certificates of tests/certs
// (_kit/certs.ts).
//
// Each peer pumps its stdout and stderr into strings as they arrive, so a
// test can wait for a line (`waitFor`) with a bound in time; what is written
// to the peer's stdin goes to the TLS conn, and what the peer receives over
// TLS shows up in its stdout. Disposing a peer kills the process if it still
// runs, waits for its exit status and for both pumps, and closes stdin, so
// Deno's resource and op sanitizers stay quiet. Needs --allow-run and
// --allow-read.

import { dec, readAtLeast } from "../_kit/bytes.ts";
import { certPath } from "../_kit/certs.ts";

/** A running openssl child process. */
export interface OpensslPeer extends AsyncDisposable {
  /** Everything the process wrote to stdout so far. */
  readonly stdout: string;
  /** Everything the process wrote to stderr so far. */
  readonly stderr: string;
  /**
   * Resolves with stdout once it matches (a string: contains) `pattern`;
   * rejects after `timeoutMs`, or when the process exits without a match.
   * The rejection carries stdout and stderr so a failing test says why.
   */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Writes to the process's stdin, which openssl sends over the TLS conn. */
  send(data: string | Uint8Array): Promise<void>;
  /** Closes stdin (s_client then closes its conn unless told otherwise). */
  closeStdin(): Promise<void>;
  /** Resolves with the exit status when the process ends by itself. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Kills the process if it runs, then waits until everything is released. */
  close(): Promise<void>;
}

/** Options for {@linkcode startSServer}. */
export interface SServerOptions {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Base name in tests/certs of the certificate served. @default {"server"} */
  cert?: string;
  /** ALPN protocols the server accepts, in order (`-alpn`). */
  alpn?: string[];
  /**
   * Ask for a client certificate, fail the handshake without one (`-Verify 1
   * -verify_return_error`), verified against `clientCa`.
   */
  requireClientCert?: boolean;
  /** Base name in tests/certs of the CA for client certificates. @default {"ca"} */
  clientCa?: string;
  /** Conns to accept before exiting (`-naccept`). @default {1} */
  naccept?: number;
  /** More s_server arguments, e.g. `["-tls1_2"]` or `["-quiet"]`. */
  args?: string[];
  /** How long to wait for the listening socket. @default {5000} */
  timeoutMs?: number;
}

/** A running `openssl s_server`. */
export interface SServer extends OpensslPeer {
  readonly hostname: string;
  readonly port: number;
}

/** Options for {@linkcode startSClient}. */
export interface SClientOptions {
  /** Port to connect to. */
  port: number;
  /** Address to connect to. @default {"127.0.0.1"} */
  hostname?: string;
  /** SNI name, also the name verified (`-servername`, `-verify_hostname`). @default {"localhost"} */
  serverName?: string;
  /** Base name in tests/certs of the CA trusted. @default {"ca"} */
  ca?: string;
  /** Fail the handshake on a bad server certificate (`-verify_return_error`). @default {true} */
  verify?: boolean;
  /** ALPN protocols offered (`-alpn`). */
  alpn?: string[];
  /** Base name in tests/certs of a client certificate to present. */
  cert?: string;
  /** More s_client arguments, e.g. `["-ign_eof"]` or `["-starttls", "smtp"]`. */
  args?: string[];
}

const encoder = new TextEncoder();

function spawnPeer(args: string[]): OpensslPeer {
  const child = new Deno.Command("openssl", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  let exited = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    const d = new TextDecoder();
    for await (const chunk of s) {
      add(d.decode(chunk, { stream: true }));
      wake();
    }
  };
  const pumps = Promise.all([
    pump(child.stdout, (t) => stdout += t),
    pump(child.stderr, (t) => stderr += t),
  ]);
  const status = child.status.then(async (s) => {
    await pumps;
    exited = true;
    wake();
    return s;
  });
  const writer = child.stdin.getWriter();
  let stdinClosed = false;
  const closeStdin = async () => {
    if (stdinClosed) return;
    stdinClosed = true;
    // The process may be gone already (broken pipe): nothing left to close then.
    await writer.close().catch(() => {});
  };
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }
      await closeStdin();
      await status;
    })();

  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    status,
    waitFor(pattern, timeoutMs = 5000) {
      const matches = () =>
        typeof pattern === "string" ? stdout.includes(pattern) : pattern.test(stdout);
      return new Promise<string>((resolve, reject) => {
        // The callback runs later, when fail is defined.
        const timer = setTimeout(() => fail(`${timeoutMs} ms passed`), timeoutMs);
        const done = () => {
          waiters.delete(check);
          clearTimeout(timer);
        };
        const fail = (why: string) => {
          done();
          reject(
            new Error(
              `openssl ${
                args[0]
              }: ${why} waiting for ${pattern}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
            ),
          );
        };
        const check = () => {
          if (matches()) {
            done();
            resolve(stdout);
          } else if (exited) fail("exited");
        };
        waiters.add(check);
        check();
      });
    },
    async send(data) {
      await writer.write(typeof data === "string" ? encoder.encode(data) : data);
    },
    closeStdin,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Starts `openssl s_server` on loopback with a test certificate and resolves
 * once it listens (its `ACCEPT host:port` line), with the port it got.
 * s_server echoes nothing: what the client sends appears in `stdout`, what
 * is given to `send` goes to the client.
 */
export async function startSServer(options: SServerOptions = {}): Promise<SServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const base = options.cert ?? "server";
  const args = [
    "s_server",
    "-accept",
    `${hostname.includes(":") ? `[${hostname}]` : hostname}:0`,
    "-cert",
    certPath(`${base}.pem`),
    "-key",
    certPath(`${base}.key`),
    "-naccept",
    String(options.naccept ?? 1),
  ];
  if (options.alpn) args.push("-alpn", options.alpn.join(","));
  if (options.requireClientCert) {
    args.push(
      "-Verify",
      "1",
      "-verify_return_error",
      "-CAfile",
      certPath(`${options.clientCa ?? "ca"}.pem`),
    );
  }
  args.push(...options.args ?? []);
  const peer = spawnPeer(args);
  let out: string;
  try {
    out = await peer.waitFor(/^ACCEPT .*:\d+$/m, options.timeoutMs ?? 5000);
  } catch (e) {
    await peer.close();
    throw e;
  }
  const port = Number(out.match(/^ACCEPT .*:(\d+)$/m)![1]);
  return Object.assign(peer, { hostname, port }) as SServer;
}

/**
 * Starts `openssl s_client` towards `port`. It resolves once the process is
 * spawned; wait for `waitFor("Verify return code: 0 (ok)")` to know the
 * handshake finished (a Deno TLS listener runs its side of the handshake
 * on its own once the conn is accepted). What the Deno side writes appears
 * in `stdout`; closing stdin ends the session (unless `-ign_eof`).
 */
export function startSClient(options: SClientOptions): Promise<OpensslPeer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const serverName = options.serverName ?? "localhost";
  const args = [
    "s_client",
    "-connect",
    `${hostname.includes(":") ? `[${hostname}]` : hostname}:${options.port}`,
    "-servername",
    serverName,
    "-verify_hostname",
    serverName,
    "-CAfile",
    certPath(`${options.ca ?? "ca"}.pem`),
  ];
  if (options.verify ?? true) args.push("-verify_return_error");
  if (options.alpn) args.push("-alpn", options.alpn.join(","));
  if (options.cert) {
    args.push("-cert", certPath(`${options.cert}.pem`), "-key", certPath(`${options.cert}.key`));
  }
  args.push(...options.args ?? []);
  return Promise.resolve(spawnPeer(args));
}

/** A plaintext peer that hands over to TLS: see {@linkcode startStartTlsPeer}. */
export interface StartTlsPeer extends AsyncDisposable {
  /** The plaintext port on 127.0.0.1 to dial. */
  readonly port: number;
  /** The s_server that speaks TLS once the prelude is over. */
  readonly server: SServer;
  /** Settles when the one conn is over (prelude error included). */
  readonly done: Promise<void>;
  /** Closes the listener, the conns and the s_server; waits for all of them. */
  close(): Promise<void>;
}

/**
 * A STARTTLS peer (openssl s_server has no server side of STARTTLS): listens
 * on 127.0.0.1, accepts one conn, runs `prelude` on it (the plaintext part,
 * e.g. greet, read "STARTTLS", answer "220 go ahead"), then relays the raw
 * bytes both ways to an `openssl s_server` started with `options`, so the
 * TLS handshake and everything after it are s_server's. The prelude must
 * not read past the client's last plaintext byte.
 */
export async function startStartTlsPeer(
  prelude: (conn: Deno.TcpConn) => Promise<void>,
  options: SServerOptions = {},
): Promise<StartTlsPeer> {
  const server = await startSServer(options);
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const closeQuietly = (c: { close(): void }) => {
    try {
      c.close();
    } catch { /* already closed */ }
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
        for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
      }
      await to.closeWrite();
    } catch {
      // One side failed or was closed: end both, so the other pipe ends too.
      closeQuietly(from);
      closeQuietly(to);
    }
  };
  const done = (async () => {
    let plain: Deno.TcpConn;
    try {
      plain = await ln.accept();
    } catch {
      return; // closed before anyone dialled
    } finally {
      closeQuietly(ln);
    }
    conns.add(plain);
    try {
      await prelude(plain);
      const tls = await Deno.connect({ hostname: server.hostname, port: server.port });
      conns.add(tls);
      await Promise.all([pipe(plain, tls), pipe(tls, plain)]);
    } finally {
      for (const c of conns) closeQuietly(c);
    }
  })();
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      closeQuietly(ln);
      for (const c of conns) closeQuietly(c);
      await done.catch(() => {});
      await server.close();
    })();
  return { port: ln.addr.port, server, done, close, [Symbol.asyncDispose]: close };
}

/** Reads from `conn` until `want` bytes arrived or EOF; returns the text. */
export async function readText(conn: Deno.Conn, want: number): Promise<string> {
  return dec(await readAtLeast(conn, want));
}
