// A server in another process, for the server tests that need one: a low
// open-file limit, or a signal. It talks in JSON lines on stdout and takes
// commands, one a line, on stdin.
//
//   deno run --allow-net --allow-read tests/_server_child.ts emfile serve|iterate
//     Serves (with serve(), or with `for await` over a listener) a handler
//     that writes "ok\n" and waits for EOF. Then opens /dev/null until the
//     open-file limit is reached (run it under `ulimit -n`), and prints
//     {"port"}. Each accept now fails with EMFILE. On "wait" it prints
//     {"retries"} once 6 accepts have been retried (serve: 5 + 10 + ... +
//     160 ms of back-off) or after 300 ms (iterate), frees the files on
//     "free", and on "end" prints
//     {"accepted","acceptRetries","errors"} and exits.
//   deno run --allow-net tests/_server_child.ts sigterm
//     Serves a line protocol: "slow" answers "working", then "done" after 300 ms; "flood"
//     writes until the peer reads (it never does). Prints {"port"}; on
//     SIGTERM it calls shutdown({ timeout: 1000 }), prints the result with
//     the ms it took, and exits 0.

import { type Conn, listen, serve } from "../mod.ts";

const encoder = new TextEncoder();

function print(value: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
}

/** The lines of stdin, one at a time. */
async function* commands(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n")) {
      yield text.slice(0, i);
      text = text.slice(i + 1);
    }
  }
}

async function greetAndWait(conn: Conn): Promise<void> {
  await conn.write(encoder.encode("ok\n"));
  const buf = new Uint8Array(64);
  while (await conn.read(buf) !== null) { /* until EOF */ }
}

async function emfile(mode: string): Promise<void> {
  let accepted = 0;
  let retries = () => 0;
  let errors = () => 0;
  let stop: () => Promise<void>;
  let address: Deno.NetAddr;
  if (mode === "serve") {
    const server = serve("127.0.0.1:0", async (conn) => {
      accepted++;
      await greetAndWait(conn);
    });
    address = server.addr;
    retries = () => server.stats().acceptRetries;
    errors = () => server.stats().errors;
    stop = async () => void await server.shutdown({ timeout: 1000 });
  } else {
    const ln = listen("127.0.0.1:0");
    address = ln.addr;
    const handlers: Promise<void>[] = [];
    const loop = (async () => {
      for await (const conn of ln) {
        accepted++;
        handlers.push(greetAndWait(conn).finally(() => conn.close()));
      }
    })();
    stop = async () => {
      ln.close();
      await loop;
      await Promise.all(handlers);
    };
  }
  // Deno 2.9 sets up its signal handling lazily, within a second of start,
  // and panics if no descriptor is free then: set it up now, before the
  // descriptors run out.
  const noop = (): void => {};
  Deno.addSignalListener("SIGUSR2", noop);
  Deno.removeSignalListener("SIGUSR2", noop);
  const files: Deno.FsFile[] = [];
  try {
    for (;;) files.push(Deno.openSync("/dev/null"));
  } catch {
    // The limit: every accept fails with EMFILE from now on.
  }
  print({ port: address.port, hoarded: files.length });
  let sawRetries: ReturnType<typeof setInterval> | undefined;
  for await (const command of commands()) {
    if (command === "wait") {
      // Tells the parent once accepts are failing (serve counts them).
      const started = performance.now();
      sawRetries = setInterval(() => {
        if (retries() >= 6 || (mode === "iterate" && performance.now() - started > 300)) {
          clearInterval(sawRetries);
          print({ retries: retries() });
        }
      }, 5);
    } else if (command === "free") {
      for (const file of files.splice(0)) file.close();
      print({ freed: true });
    } else if (command === "end") {
      await stop!();
      print({ accepted, acceptRetries: retries(), errors: errors() });
      break;
    }
  }
  clearInterval(sawRetries);
}

async function sigterm(): Promise<void> {
  const server = serve("127.0.0.1:0", async (conn) => {
    await conn.write(encoder.encode("ok\n"));
    const buf = new Uint8Array(64);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      const line = new TextDecoder().decode(buf.subarray(0, n)).trim();
      if (line === "slow") {
        await conn.write(encoder.encode("working\n"));
        await new Promise((resolve) => setTimeout(resolve, 300));
        await conn.write(encoder.encode("done\n"));
      } else if (line === "flood") {
        const chunk = new Uint8Array(64 * 1024);
        for (;;) await conn.write(chunk);
      }
    }
  });
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const onTerm = async (): Promise<void> => {
    const start = performance.now();
    const result = await server.shutdown({ timeout: 1000 });
    const ms = Math.round(performance.now() - start);
    await server.finished;
    print({ ...result, ms, stats: server.stats() });
    resolve();
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  print({ port: server.addr.port });
  await done;
  Deno.removeSignalListener("SIGTERM", onTerm);
}

const [what, mode = "serve"] = Deno.args;
if (what === "emfile") await emfile(mode);
else if (what === "sigterm") await sigterm();
else throw new Error(`unknown child mode ${what}`);
