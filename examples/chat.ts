/**
 * A line chat on `serve()`: every line a client sends goes to every other
 * client, prefixed with the sender's address.
 *
 *     deno run --allow-net examples/chat.ts [port]
 *     nc 127.0.0.1 7000        # in two or more terminals
 *
 * What the server does for you: a client that fails (resets, sends a line
 * over 4 KiB) costs only its own conn; at most 1000 clients, the rest wait
 * in the backlog; a client silent for 10 minutes is closed; Ctrl-C or
 * SIGTERM closes idle clients at once and gives the others 5 s. What the
 * chat does itself: a client that does not read its messages (more than 64
 * waiting) is dropped, so one slow reader cannot hold up the room or grow
 * its memory without bound.
 *
 * @module
 */

import { type Conn, serve, type Server } from "../mod.ts";
import { BufReader } from "../bufio/mod.ts";

/** Messages that may wait for one client before it is dropped as too slow. */
const MAX_QUEUED = 64;
const encoder = new TextEncoder();

/**
 * Starts the chat server.
 *
 * @param address Where to listen.
 * @returns The server.
 */
export function serveChat(address: string): Server {
  const room = new Set<Conn>();

  const broadcast = (from: Conn | null, text: string): void => {
    const bytes = encoder.encode(text);
    for (const client of room) {
      if (client === from) continue;
      if (client.stats().writeQueueDepth >= MAX_QUEUED) {
        client.close(); // too slow: its handler's read fails, and it leaves
        continue;
      }
      client.write(bytes).catch(() => client.close());
    }
  };

  return serve(address, async (conn) => {
    const name = String(conn.remoteAddr);
    room.add(conn);
    broadcast(conn, `* ${name} joined\n`);
    try {
      await conn.write(encoder.encode(`* welcome, ${name}; ${room.size} here\n`));
      const reader = new BufReader(conn);
      for (;;) {
        const line = await reader.readString("\n", { maxLength: 4096 });
        if (line === null) break;
        broadcast(conn, `${name}: ${line.endsWith("\n") ? line : line + "\n"}`);
      }
    } finally {
      room.delete(conn);
      broadcast(conn, `* ${name} left\n`);
    }
  }, { maxConns: 1000, idleTimeout: 10 * 60_000 });
}

if (import.meta.main) {
  const server = serveChat(`127.0.0.1:${Deno.args[0] ?? "7000"}`);
  console.log(`chat on ${server.addr}`);
  const stop = async (): Promise<void> => {
    const { finished, forced } = await server.shutdown({ timeout: 5000 });
    console.log(`stopped: ${finished} clients finished, ${forced} forced`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
