/**
 * Socket options through netconn's Conn: each set, then read back with
 * `conn.socketOptions()` (what the kernel chose), and the effects that make
 * them matter: a reset on close with linger 0 and the kernel's buffer sizes.
 * Rows that read options back need `--allow-ffi`; NoDelay is judged by its
 * effect without it. The listener's options are in `listen.ts`.
 *
 * @module
 */

import { NetError, type TcpConn } from "../mod.ts";
import { socketOptions } from "../sockopt/mod.ts";
import type { Agreement, Experiment, Lab, Outcome } from "./_lab.ts";
import type { GoResult } from "./_go.ts";
import { describe, kindOf } from "./_cells.ts";
import { delay, since } from "../_kit/wait.ts";
import { agreement, both, same, sameError } from "./_agree.ts";
import { nagleStalls } from "./nagle.ts";
import {
  amount,
  fillUntilBlocked,
  measureCell,
  size,
  strandedThresholds,
  thresholdCheck,
} from "./sweep.ts";

const KiB = 1024;

/** Seconds, for a table cell: 15000 → "15 s". */
function s(ms: number): string {
  return `${ms / 1000} s`;
}

/** Keepalive as the kernel reports it: "on 15 s / 15 s / 9". */
function keepAliveText(conn: TcpConn): string {
  const o = conn.socketOptions();
  const timing = `${s(o.keepAliveIdle)} / ${s(o.keepAliveInterval)} / ${o.keepAliveCount}`;
  return `${o.keepAlive ? "on" : "off"} ${timing}`;
}

/** Nagle off on dialed and accepted conns; the setter flips it both ways. */
export const noDelayOption: Experiment = {
  name: "option: NoDelay",
  go: "SetNoDelay; true (Nagle off) on every TCP conn by default",
  goCase: "option-nodelay",
  compare: (go, ours) =>
    agreement(
      ...(["dialed", "accepted", "afterFalse", "afterTrue"] as const).map((name) =>
        same(name, go.numbers[name], ours.numbers[name])
      ),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return await noDelayByTiming(client, server);
    }
    const dialed = client.socketOptions().noDelay;
    const accepted = server.socketOptions().noDelay;
    client.setNoDelay(false);
    const off = client.socketOptions().noDelay;
    client.setNoDelay(true);
    const on = client.socketOptions().noDelay;
    const raw = await lab.rawPair();
    const rawNoDelay = socketOptions(raw.client).noDelay;
    return {
      netconn: `dialed ${dialed}, accepted ${accepted}; setNoDelay(false) → ${off}, ` +
        `setNoDelay(true) → ${on}`,
      raw: `noDelay ${rawNoDelay} (Nagle on)`,
      numbers: { dialed: +dialed, accepted: +accepted, afterFalse: +off, afterTrue: +on },
      ok: dialed && accepted && !off && on,
    };
  },
};

/**
 * NoDelay without `--allow-ffi`, by its effect: a conn whose write-write-read
 * exchanges stall on the peer's delayed ACK has Nagle on (NoDelay false).
 */
async function noDelayByTiming(client: TcpConn, server: TcpConn): Promise<Outcome> {
  const dialed = !(await nagleStalls(client, server)).stalls;
  const accepted = !(await nagleStalls(server, client)).stalls;
  client.setNoDelay(false);
  const slow = await nagleStalls(client, server);
  client.setNoDelay(true);
  const fast = await nagleStalls(client, server);
  return {
    netconn:
      `by timing (no --allow-ffi to read it back): dialed ${dialed}, accepted ${accepted}; ` +
      `setNoDelay(false) → ${!slow.stalls} (${slow.ms} ms a round trip), setNoDelay(true) → ` +
      `${!fast.stalls} (${fast.ms} ms)`,
    numbers: {
      dialed: +dialed,
      accepted: +accepted,
      afterFalse: +!slow.stalls,
      afterTrue: +!fast.stalls,
    },
    ok: dialed && accepted && slow.stalls && !fast.stalls,
  };
}

/** Go's keepalive defaults on dialed and accepted conns. */
export const keepAliveDefaults: Experiment = {
  name: "option: keepalive defaults",
  go: "Dial and Accept: keepalive on, 15 s idle, 15 s interval, 9 probes",
  needs: ["ffi"],
  goCase: "keepalive-defaults",
  compare: (go, ours) =>
    agreement(
      ...["dialedIdle", "dialedInterval", "dialedCount", "acceptedIdle", "acceptedCount"].map((
        name,
      ) => same(name, go.numbers[name], ours.numbers[name])),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const raw = await lab.rawPair();
    const numbers: Record<string, number> = {};
    let ok = true;
    for (const [side, conn] of [["dialed", client], ["accepted", server]] as const) {
      const o = conn.socketOptions();
      numbers[`${side}Idle`] = o.keepAliveIdle;
      numbers[`${side}Interval`] = o.keepAliveInterval;
      numbers[`${side}Count`] = o.keepAliveCount;
      ok &&= o.keepAlive && o.keepAliveIdle === 15_000 && o.keepAliveInterval === 15_000 &&
        o.keepAliveCount === 9;
    }
    const r = socketOptions(raw.client);
    return {
      netconn: `dialed ${keepAliveText(client)}, accepted ${keepAliveText(server)} ` +
        "(on, idle / interval / count)",
      raw: `keepalive ${r.keepAlive ? "on" : "off"} (OS timing ${s(r.keepAliveIdle)} / ` +
        `${s(r.keepAliveInterval)} / ${r.keepAliveCount})`,
      numbers,
      ok,
    };
  },
};

/** setKeepAlivePeriod: whole seconds, rounded up; 0 is Go's 15 s. */
export const keepAlivePeriod: Experiment = {
  name: "option: setKeepAlivePeriod",
  go: "SetKeepAlivePeriod(d): idle time before probes, in whole seconds rounded up",
  needs: ["ffi"],
  goCase: "keepalive-period",
  compare: (go, ours) => {
    const goZero = go.facts?.zero === "none" ? s(go.numbers.idle0!) : "refused (invalid argument)";
    return agreement(
      ...["idle30", "interval30", "idleUp", "intervalUp"].map((name) =>
        same(name, go.numbers[name], ours.numbers[name])
      ),
      // Period 0 is the decision's: shown side by side, judged there.
      [true, `period 0: Go ${goZero}, netconn ${s(ours.numbers.idle0!)}`],
    );
  },
  // Go 1.23 and later take 0 as the 15 s default, as netconn does; earlier Go refuses it.
  decision: (ours, go) =>
    go === undefined || (go.facts?.zero === "none" && go.numbers.idle0 === ours.numbers.idle0)
      ? undefined
      : "setKeepAlivePeriod(0) means Go's 15 s default, as Go 1.23 and later take 0; " +
        "Go before 1.23 passes 0 to the kernel, which refuses it (docs/sockopt.md)",
  async run(lab: Lab): Promise<Outcome> {
    const { client } = await lab.pair();
    const read = (): [number, number] => {
      const o = client.socketOptions();
      return [o.keepAliveIdle, o.keepAliveInterval];
    };
    client.setKeepAlivePeriod(30_000);
    const [idle30, interval30] = read();
    client.setKeepAlivePeriod(9_001);
    const [idleUp, intervalUp] = read();
    client.setKeepAlivePeriod(0);
    const [idle0, interval0] = read();
    return {
      netconn: `30 s → idle ${s(idle30)}, interval ${s(interval30)}; 9.001 s → ${s(idleUp)} / ` +
        `${s(intervalUp)}; 0 → ${s(idle0)} / ${s(interval0)} (interval set too, as Go ≤ 1.22)`,
      numbers: { idle30, interval30, idleUp, intervalUp, idle0, interval0 },
      ok: idle30 === 30_000 && idleUp === 10_000 && idle0 === 15_000,
    };
  },
};

/** setKeepAliveConfig: zero fields take Go's defaults, negative ones are left alone. */
export const keepAliveConfig: Experiment = {
  name: "option: setKeepAliveConfig",
  go: "SetKeepAliveConfig: 0 fields → 15 s / 15 s / 9, negative fields left unchanged",
  needs: ["ffi"],
  goCase: "keepalive-config",
  compare: compareKeepAliveConfig,
  async run(lab: Lab): Promise<Outcome> {
    const { client } = await lab.pair();
    client.setKeepAliveConfig({ enable: true, idle: 5_000, interval: 2_000, count: 3 });
    const set = client.socketOptions();
    client.setKeepAliveConfig({ enable: true, idle: -1, interval: 0, count: -1 });
    const mixed = client.socketOptions();
    client.setKeepAliveConfig({});
    const zero = client.socketOptions();
    const text = (o: typeof set): string =>
      `${o.keepAlive ? "on" : "off"} ${s(o.keepAliveIdle)} / ${s(o.keepAliveInterval)} / ` +
      `${o.keepAliveCount}`;
    return {
      netconn: `{5 s, 2 s, 3} → ${text(set)}; {-1, 0, -1} → ${text(mixed)}; {} → ${text(zero)}`,
      numbers: {
        idle: set.keepAliveIdle,
        interval: set.keepAliveInterval,
        count: set.keepAliveCount,
        mixedIdle: mixed.keepAliveIdle,
        mixedInterval: mixed.keepAliveInterval,
        mixedCount: mixed.keepAliveCount,
        zeroEnabled: +zero.keepAlive,
      },
      ok: set.keepAlive && set.keepAliveIdle === 5_000 && set.keepAliveInterval === 2_000 &&
        set.keepAliveCount === 3 && mixed.keepAliveIdle === 5_000 &&
        mixed.keepAliveInterval === 15_000 && mixed.keepAliveCount === 3 && !zero.keepAlive &&
        zero.keepAliveIdle === 15_000 && zero.keepAliveCount === 9,
    };
  },
};

/**
 * With Go 1.23 or later every figure of the three configs is compared. Go
 * before 1.23 has no KeepAliveConfig: the Go program measures what it offers
 * instead, SetKeepAlivePeriod(5 s), whose idle time is compared; the rest
 * is compared with Go 1.23's documentation, and the row says so.
 */
function compareKeepAliveConfig(go: GoResult, ours: Outcome): Agreement {
  const names = go.facts?.api === "KeepAliveConfig"
    ? ["idle", "interval", "count", "mixedIdle", "mixedInterval", "mixedCount", "zeroEnabled"]
    : ["idle"];
  const checks = names.map((name) => same(name, go.numbers[name], ours.numbers[name]));
  const result = agreement(...checks);
  if (go.facts?.api === "KeepAliveConfig") return result;
  return {
    ...result,
    documented: "Go 1.19 to 1.22 have no KeepAliveConfig (Go 1.23 added it); measured what " +
      `they offer instead, SetKeepAlivePeriod(5 s): idle ${s(go.numbers.idle ?? 0)} as ` +
      `netconn's, interval ${s(go.numbers.interval ?? 0)} (the period sets both), count ` +
      `${go.numbers.count} (the OS's); the interval, count, zero and negative fields are ` +
      "compared with Go 1.23's documentation (measured with Go 1.23 or later)",
  };
}

/** Reads `conn` to the end: the bytes, and how it ended ("EOF" or the error). */
async function readToEnd(conn: TcpConn): Promise<{ read: number; end: unknown }> {
  const buf = new Uint8Array(256 * KiB);
  let read = 0;
  for (;;) {
    try {
      const n = await conn.read(buf);
      if (n === null) return { read, end: "EOF" };
      read += n;
    } catch (e) {
      return { read, end: e };
    }
  }
}

/**
 * Fills the pipe (the peer does not read), sets linger on the writer, closes
 * it, then lets the peer read everything it can.
 */
async function closeFull(lab: Lab, linger: number | undefined): Promise<{
  accepted: number;
  linger: number;
  read: number;
  end: unknown;
}> {
  const { client, server } = await lab.pair();
  const { accepted } = await fillUntilBlocked(client); // unsent data stays in SO_SNDBUF
  if (linger !== undefined) client.setLinger(linger);
  const set = client.socketOptions().linger;
  client.close();
  return { accepted, linger: set, ...await readToEnd(server) };
}

/** How a read to the end ended, as the Go program names it: "eof", or the error's kind. */
function endKind(end: unknown): string {
  return end === "EOF" ? "eof" : kindOf(end);
}

/** Linger 0: close discards the unsent data and resets; the default sends it all. */
export const lingerZero: Experiment = {
  name: "option: setLinger(0), close",
  go: "SetLinger(0): Close discards unsent data; the peer's Read fails: connection reset",
  needs: ["ffi"],
  goCase: "linger-zero",
  compare: (go, ours) =>
    agreement(
      sameError(go.facts?.zeroEnd, ours.facts?.zeroEnd),
      both(
        "linger 0 lost data",
        go.numbers.read! < go.numbers.accepted!,
        ours.numbers.read! < ours.numbers.accepted!,
      ),
      sameError(go.facts?.defaultEnd, ours.facts?.defaultEnd),
      both(
        "default delivered it all",
        go.numbers.defaultRead === go.numbers.defaultAccepted,
        ours.numbers.defaultRead === ours.numbers.defaultAccepted,
      ),
    ),
  limitMs: 10_000,
  async run(lab: Lab): Promise<Outcome> {
    const zero = await closeFull(lab, 0);
    const normal = await closeFull(lab, undefined);
    const kind = zero.end instanceof NetError ? zero.end.kind : "none";
    return {
      netconn: `linger ${zero.linger}: peer read ${amount(zero.read)} of ` +
        `${amount(zero.accepted)}, then ${describe(zero.end)}; default (linger ` +
        `${normal.linger}): ${amount(normal.read)}, then ${describe(normal.end)}`,
      numbers: {
        accepted: zero.accepted,
        read: zero.read,
        defaultAccepted: normal.accepted,
        defaultRead: normal.read,
      },
      facts: { zeroEnd: endKind(zero.end), defaultEnd: endKind(normal.end) },
      ok: zero.linger === 0 && kind === "reset" && zero.read < zero.accepted &&
        normal.linger === -1 && normal.end === "EOF" && normal.read === normal.accepted,
    };
  },
};

/** The longest gap between 5 ms ticks of the event loop while `during` runs. */
async function longestStall(during: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  return Math.round(Math.max(longest, performance.now() - last));
}

/** Linger 1 s with unsent data and a peer that does not read yet. */
export const lingerPositive: Experiment = {
  name: "option: setLinger(1), close",
  go: "SetLinger(n > 0): Close may block (Linux) while the data is sent; the peer gets it all",
  needs: ["ffi"],
  limitMs: 10_000,
  goCase: "linger-one",
  compare: (go, ours) =>
    agreement(
      both(
        "peer got it all",
        go.numbers.read === go.numbers.accepted,
        ours.numbers.read === ours.numbers.accepted,
      ),
      sameError(go.facts?.end, ours.facts?.end, "then"),
      // Who waits for the linger is the decision's (lingerStalls): shown side by side.
      [
        true,
        `close waited: Go ${go.numbers.closeMs} ms (its goroutine; longest gap elsewhere ` +
        `${go.numbers.stallMs} ms), netconn ${ours.numbers.closeMs} ms, the event loop ` +
        `stalled ${ours.numbers.stallMs} ms`,
      ],
    ),
  decision: lingerStalls,
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const { accepted } = await fillUntilBlocked(client);
    client.setLinger(1);
    let closeMs = 0;
    const stallMs = await longestStall(async () => {
      const start = performance.now();
      client.close();
      closeMs = since(start);
      await delay(1500); // the peer reads only after this
    });
    const { read, end } = await readToEnd(server);
    return {
      netconn: `close() returned in ${closeMs} ms, then the event loop stalled ${stallMs} ms ` +
        `(the runtime thread waits in close(2)); peer then read ${amount(read)} of ` +
        `${amount(accepted)}, then ${describe(end)}`,
      numbers: { accepted, read, closeMs, stallMs },
      facts: { end: endKind(end) },
      ok: read === accepted && end === "EOF",
    };
  },
};

/**
 * The decision the linger row shows when the linger wait stalled the whole
 * event loop, where Go's Close blocks only the goroutine that called it.
 */
function lingerStalls(ours: Outcome, go: GoResult | undefined): string | undefined {
  const stall = ours.numbers.stallMs ?? 0;
  if (stall < 500 || (go !== undefined && (go.numbers.stallMs ?? 0) >= 500)) return undefined;
  return `Deno closes the socket on its runtime thread, so close(2)'s linger wait stalled the ` +
    `whole event loop ${stall} ms, where Go's Close blocks only its own goroutine ` +
    `(${go?.numbers.closeMs ?? "about 1000"} ms) while the others run; the peer gets every byte ` +
    "on both (docs/sockopt.md, Linger; docs/probe.md, Decisions)";
}

/** Buffer sizes asked for and what Linux made of them. */
export const bufferSizes: Experiment = {
  name: "option: setReadBuffer / setWriteBuffer",
  go: "SetReadBuffer / SetWriteBuffer: SO_RCVBUF / SO_SNDBUF; the kernel picks the size",
  needs: ["ffi"],
  goCase: "buffer-sizes",
  compare: (go, ours) =>
    agreement(
      ...Object.keys(go.numbers).map((name) => same(name, go.numbers[name], ours.numbers[name])),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client } = await lab.pair();
    const before = client.socketOptions();
    const asks = [0, 16 * KiB, 64 * KiB, 1024 * KiB, 64 * 1024 * KiB];
    const got: [number, number, number][] = [];
    for (const ask of asks) {
      client.setReadBuffer(ask);
      client.setWriteBuffer(ask);
      const o = client.socketOptions();
      got.push([ask, o.readBuffer, o.writeBuffer]);
    }
    const numbers: Record<string, number> = {
      defaultRead: before.readBuffer,
      defaultWrite: before.writeBuffer,
    };
    for (const [ask, r, w] of got) {
      numbers[`read ${ask}`] = r;
      numbers[`write ${ask}`] = w;
    }
    const linux = Deno.build.os === "linux";
    const doubled = got.filter(([ask]) => ask >= 16 * KiB && ask <= 1024 * KiB)
      .every(([ask, r, w]) => r === ask * (linux ? 2 : 1) && w === ask * (linux ? 2 : 1));
    const list = got.map(([ask, r, w]) =>
      `${size(ask)} → ${size(r)}${r === w ? "" : ` / ${size(w)}`}`
    ).join(", ");
    return {
      netconn: `default ${size(before.readBuffer)} / ${size(before.writeBuffer)}; ` +
        `asked → got (read, write if different): ${list}`,
      numbers,
      ok: doubled,
    };
  },
};

const THRESHOLDS = ["defaultThreshold", "listenerThreshold", "acceptedThreshold"] as const;

/** The receive buffer set on the listener before the dial, or on the accepted conn after. */
export const rcvbufWhere: Experiment = {
  name: "option: SO_RCVBUF, listener vs accepted conn",
  go: "a listener's SO_RCVBUF is inherited by accepted conns and sizes the handshake's window",
  needs: ["ffi"],
  goCase: "rcvbuf-where",
  decision: (ours, go) =>
    strandedThresholds(THRESHOLDS.map((name) => [name, go?.numbers[name], ours.numbers[name]])),
  compare: (go, ours) =>
    agreement(
      ...THRESHOLDS.map((name) => thresholdCheck(name, go.numbers[name], ours.numbers[name])),
      same("kernel SO_RCVBUF, listener", go.numbers.listenerRcvbuf, ours.numbers.listenerRcvbuf),
      same("kernel SO_RCVBUF, accepted", go.numbers.acceptedRcvbuf, ours.numbers.acceptedRcvbuf),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const sndbuf = 64 * KiB;
    const rcvbuf = 16 * KiB;
    const [normal, onListener, onAccepted] = await Promise.all([
      measureCell(lab, { sndbuf, rcvbuf: undefined, noDelay: true }),
      measureCell(lab, { sndbuf, rcvbuf, noDelay: true }),
      measureCell(lab, { sndbuf, rcvbuf, noDelay: true }, { rcvbufOn: "accepted" }),
    ]);
    return {
      netconn: `SO_SNDBUF 64 KiB; write blocked after: ${amount(normal.threshold)} with the ` +
        `default SO_RCVBUF, ${amount(onListener.threshold)} with 16 KiB on the listener, ` +
        `${amount(onAccepted.threshold)} with 16 KiB on the accepted conn, which keeps the ` +
        `window it offered in the handshake (kernel: ${size(onListener.kernelRcvbuf)} both ways)`,
      numbers: {
        defaultThreshold: normal.threshold,
        listenerThreshold: onListener.threshold,
        acceptedThreshold: onAccepted.threshold,
        listenerRcvbuf: onListener.kernelRcvbuf,
        acceptedRcvbuf: onAccepted.kernelRcvbuf,
      },
      ok: onListener.threshold < normal.threshold && onAccepted.threshold < normal.threshold &&
        onListener.kernelRcvbuf === onAccepted.kernelRcvbuf,
    };
  },
};

/** The socket-option rows, after the Nagle row. */
export const sockoptExperiments: Experiment[] = [
  noDelayOption,
  keepAliveDefaults,
  keepAlivePeriod,
  keepAliveConfig,
  lingerZero,
  lingerPositive,
  bufferSizes,
  rcvbufWhere,
];
