// The option setters as one shape, and bad option values, shared by the sockopt tests (what each setter throws)
// and the Conn tests (Conn's setters throw the very same errors).

import * as so from "../../sockopt/mod.ts";

/** The option setters, as a Conn has them and as {@linkcode setters} binds them to a socket. */
export interface Setters {
  setKeepAlivePeriod(ms: number): void;
  setKeepAliveConfig(config: so.KeepAliveConfig): void;
  setLinger(seconds: number): void;
  setReadBuffer(bytes: number): void;
  setWriteBuffer(bytes: number): void;
}

/** A bad value: its name, the call, the error class, and what the message says. */
export type BadValue = [
  string,
  (s: Setters) => unknown,
  typeof RangeError | typeof TypeError,
  RegExp,
];

function bad<T>(x: unknown): T {
  return x as T;
}

/** Every kind of bad value each setter must reject before it changes anything. */
export const BAD_VALUES: BadValue[] = [
  ["period -1", (s) => s.setKeepAlivePeriod(-1), RangeError, /^Keepalive period .*the number -1/],
  [
    "period NaN",
    (s) => s.setKeepAlivePeriod(NaN),
    RangeError,
    /^Keepalive period .*finite.*the number NaN/,
  ],
  ["period Infinity", (s) => s.setKeepAlivePeriod(Infinity), RangeError, /the number Infinity/],
  ["period '1000'", (s) => s.setKeepAlivePeriod(bad("1000")), TypeError, /milliseconds.*"1000"/],
  ["period beyond the OS", (s) => s.setKeepAlivePeriod(4e7), RangeError, /out of range/],
  ["period far beyond", (s) => s.setKeepAlivePeriod(1e12), RangeError, /period "1000000000000"/],
  ["config null", (s) => s.setKeepAliveConfig(bad(null)), TypeError, /object.*null/],
  ["enable 'yes'", (s) => s.setKeepAliveConfig({ enable: bad("yes") }), TypeError, /enable.*"yes"/],
  ["enable 1", (s) => s.setKeepAliveConfig({ enable: bad(1) }), TypeError, /enable.*the number 1/],
  ["idle NaN", (s) => s.setKeepAliveConfig({ idle: NaN }), RangeError, /idle.*the number NaN/],
  [
    "interval Infinity",
    (s) => s.setKeepAliveConfig({ interval: Infinity }),
    RangeError,
    /interval/,
  ],
  ["count 1.5", (s) => s.setKeepAliveConfig({ count: 1.5 }), RangeError, /count.*the number 1.5/],
  ["count NaN", (s) => s.setKeepAliveConfig({ count: NaN }), RangeError, /count.*the number NaN/],
  ["count beyond the OS", (s) => s.setKeepAliveConfig({ count: 1000 }), RangeError, /out of/],
  ["linger 1.5", (s) => s.setLinger(1.5), RangeError, /^Linger.*the number 1.5/],
  ["linger NaN", (s) => s.setLinger(NaN), RangeError, /^Linger.*the number NaN/],
  ["linger -Infinity", (s) => s.setLinger(-Infinity), RangeError, /^Linger.*the number -Infinity/],
  ["linger 2^31", (s) => s.setLinger(2 ** 31), RangeError, /^Linger.*the number 2147483648/],
  ["linger '5'", (s) => s.setLinger(bad("5")), TypeError, /^Linger.*"5"/],
  ["read buffer -1", (s) => s.setReadBuffer(-1), RangeError, /^Read buffer size.*the number -1/],
  ["read buffer 1.5", (s) => s.setReadBuffer(1.5), RangeError, /^Read buffer size.*the number 1.5/],
  ["read buffer NaN", (s) => s.setReadBuffer(NaN), RangeError, /^Read buffer size.*the number NaN/],
  ["read buffer Infinity", (s) => s.setReadBuffer(Infinity), RangeError, /^Read buffer/],
  ["read buffer 2^31", (s) => s.setReadBuffer(2 ** 31), RangeError, /the number 2147483648/],
  ["read buffer '4096'", (s) => s.setReadBuffer(bad("4096")), TypeError, /^Read buffer.*"4096"/],
  ["write buffer -4096", (s) => s.setWriteBuffer(-4096), RangeError, /^Write buffer size/],
  [
    "write buffer NaN",
    (s) => s.setWriteBuffer(NaN),
    RangeError,
    /^Write buffer size.*the number NaN/,
  ],
  [
    "write buffer 1.5",
    (s) => s.setWriteBuffer(1.5),
    RangeError,
    /^Write buffer size.*the number 1.5/,
  ],
  ["write buffer 2^31", (s) => s.setWriteBuffer(2 ** 31), RangeError, /^Write buffer size/],
  ["write buffer '4096'", (s) => s.setWriteBuffer(bad("4096")), TypeError, /^Write buffer/],
];

/** The setters of ./sockopt, bound to one raw socket. */
export function sockoptSetters(socket: Deno.TcpConn | number): Setters {
  return {
    setKeepAlivePeriod: (ms) => so.setKeepAlivePeriod(socket, ms),
    setKeepAliveConfig: (config) => so.setKeepAliveConfig(socket, config),
    setLinger: (seconds) => so.setLinger(socket, seconds),
    setReadBuffer: (bytes) => so.setReadBuffer(socket, bytes),
    setWriteBuffer: (bytes) => so.setWriteBuffer(socket, bytes),
  };
}
