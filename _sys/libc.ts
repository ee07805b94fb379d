/**
 * The libc calls behind the socket options and the kernel-first path, loaded once through `Deno.dlopen`.
 * Private: nothing here checks its arguments beyond what C would.
 *
 * @module
 */

import { NotSupportedError } from "../errors.ts";

/** The socket constants of one platform; Linux values unless macOS differs. */
interface Platform {
  path: string;
  bsdSockaddr: boolean; // sockaddr starts with a length byte, then a one-byte family
  SOL_SOCKET: number;
  SO_TYPE: number;
  SO_KEEPALIVE: number;
  SO_LINGER: number; // macOS: SO_LINGER_SEC; its SO_LINGER counts clock ticks
  SO_SNDBUF: number;
  SO_RCVBUF: number;
  SO_ACCEPTCONN: number;
  IPPROTO_TCP: number;
  TCP_NODELAY: number;
  TCP_KEEPIDLE: number; // macOS: TCP_KEEPALIVE
  TCP_KEEPINTVL: number;
  TCP_KEEPCNT: number;
  AF_INET: number;
  AF_INET6: number;
  SOCK_STREAM: number;
  RLIMIT_NOFILE: number;
  EBADF: number;
  EINVAL: number;
}

const LINUX: Platform = {
  path: "libc.so.6",
  bsdSockaddr: false,
  SOL_SOCKET: 1,
  SO_TYPE: 3,
  SO_KEEPALIVE: 9,
  SO_LINGER: 13,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_ACCEPTCONN: 30,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  RLIMIT_NOFILE: 7,
  EBADF: 9,
  EINVAL: 22,
};

const DARWIN: Platform = {
  ...LINUX,
  path: "/usr/lib/libSystem.B.dylib",
  bsdSockaddr: true,
  SOL_SOCKET: 0xffff,
  SO_TYPE: 0x1008,
  SO_KEEPALIVE: 0x0008,
  SO_LINGER: 0x1080,
  SO_SNDBUF: 0x1001,
  SO_RCVBUF: 0x1002,
  SO_ACCEPTCONN: 0x0002,
  TCP_KEEPIDLE: 0x10,
  TCP_KEEPINTVL: 0x101,
  TCP_KEEPCNT: 0x102,
  AF_INET6: 30,
  RLIMIT_NOFILE: 8,
};

// nfds_t is unsigned long on Linux and unsigned int on macOS; passing a usize
// is right for both on 64-bit ABIs. errno lives behind __errno_location
// (glibc, musl) or __error (macOS): both are optional, one is there.
const SYMBOLS = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "usize", "i32"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer", optional: true },
  __error: { parameters: [], result: "pointer", optional: true },
  fopen: { parameters: ["buffer", "buffer"], result: "pointer" },
  fgets: { parameters: ["buffer", "i32", "pointer"], result: "pointer" },
  fclose: { parameters: ["pointer"], result: "i32" },
  sysctlbyname: {
    parameters: ["buffer", "buffer", "buffer", "pointer", "usize"],
    result: "i32",
    optional: true,
  },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The loaded library and the constants that go with it. */
export interface Libc {
  readonly c: Platform;
  readonly sym: Symbols;
}

let loaded: Libc | undefined;

/**
 * Loads libc on first use and returns it. Throws NotSupportedError, naming
 * what is missing, on a platform other than Linux or macOS or without the
 * ffi permission; the permission is queried, so nothing prompts. A failure is
 * not cached: a later call after `Deno.permissions.request` can succeed.
 */
export function libc(what: string): Libc {
  if (loaded !== undefined) return loaded;
  const os = Deno.build.os;
  const c = os === "linux" ? LINUX : os === "darwin" ? DARWIN : undefined;
  if (c === undefined) {
    throw new NotSupportedError(
      `${what} is not supported on "${os}": socket options through libc need linux or darwin`,
      { op: "set" },
    );
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    throw new NotSupportedError(
      `${what} needs the ffi permission: run with --allow-ffi`,
      { op: "set" },
    );
  }
  try {
    loaded = { c, sym: Deno.dlopen(c.path, SYMBOLS).symbols };
  } catch (error) {
    throw new NotSupportedError(`${what} cannot load "${c.path}": ${String(error)}`, {
      op: "set",
      cause: error,
    });
  }
  return loaded;
}

/** True when {@linkcode libc} would load, without throwing. */
export function libcAvailable(): boolean {
  if (loaded !== undefined) return true;
  // Asked on every dial without --allow-ffi: answer without building an error.
  const os = Deno.build.os;
  if (os !== "linux" && os !== "darwin") return false;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  try {
    libc("probe");
    return true;
  } catch {
    return false;
  }
}

/** A failed libc call: the function, errno and the OS's text for it. */
export class Errno extends Error {
  /** The C `errno` value. */
  readonly errno: number;

  constructor(call: string, errno: number, text: string) {
    super(`${call}: ${text}`);
    this.name = "Errno";
    this.errno = errno;
  }
}

/** The errno of the last failed call, read right after it on this thread. */
export function lastErrno(lib: Libc, call: string): Errno {
  const errno = errnoValue(lib);
  const text = lib.sym.strerror(errno);
  return new Errno(
    call,
    errno,
    text === null ? `errno ${errno}` : Deno.UnsafePointerView.getCString(text),
  );
}

// Scratch buffers: FFI calls are synchronous, so one set serves every call.
const intValue = new Int32Array(2); // an int option, or struct linger { onoff; linger }
const optLen = new Uint32Array(1);
const sockaddr = new Uint8Array(128); // room for sockaddr_storage
const addrLen = new Uint32Array(1);

/** Sets an int option; throws {@linkcode Errno} on failure. */
export function setInt(lib: Libc, fd: number, level: number, name: number, value: number): void {
  intValue[0] = value;
  if (lib.sym.setsockopt(fd, level, name, intValue, 4) !== 0) throw lastErrno(lib, "setsockopt");
}

/** Reads an int option; throws {@linkcode Errno} on failure. */
export function getInt(lib: Libc, fd: number, level: number, name: number): number {
  intValue[0] = 0;
  optLen[0] = 4;
  if (lib.sym.getsockopt(fd, level, name, intValue, optLen) !== 0) {
    throw lastErrno(lib, "getsockopt");
  }
  return intValue[0];
}

/** Sets SO_LINGER from `struct linger { int l_onoff; int l_linger; }`. */
export function setLingerStruct(lib: Libc, fd: number, on: boolean, seconds: number): void {
  intValue[0] = on ? 1 : 0;
  intValue[1] = seconds;
  const { SOL_SOCKET, SO_LINGER } = lib.c;
  if (lib.sym.setsockopt(fd, SOL_SOCKET, SO_LINGER, intValue, 8) !== 0) {
    throw lastErrno(lib, "setsockopt");
  }
}

/** Reads SO_LINGER: its seconds when on, -1 when off. */
export function getLingerStruct(lib: Libc, fd: number): number {
  intValue.fill(0);
  optLen[0] = 8;
  const { SOL_SOCKET, SO_LINGER } = lib.c;
  if (lib.sym.getsockopt(fd, SOL_SOCKET, SO_LINGER, intValue, optLen) !== 0) {
    throw lastErrno(lib, "getsockopt");
  }
  return intValue[0] === 0 ? -1 : intValue[1]!;
}

/** The errno of the last failed call, without its text. */
export function errnoValue({ sym }: Libc): number {
  const errnoAt = sym.__errno_location ?? sym.__error;
  const where = errnoAt === null ? null : errnoAt();
  return where === null ? 0 : new Deno.UnsafePointerView(where).getInt32();
}

/**
 * The canonical text of the 16-byte IPv6 address at `b[at]`: a v4-mapped
 * address as `a.b.c.d`, any other as `[` eight unpadded hex groups `]`.
 * Both sides of every address comparison are written by this function.
 */
export function ip16Text(b: Uint8Array, at: number): string {
  let mapped = b[at + 10] === 0xff && b[at + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) mapped = b[at + i] === 0;
  if (mapped) return `${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  let text = "[";
  for (let i = 0; i < 16; i += 2) {
    text += ((b[at + i]! << 8) | b[at + i + 1]!).toString(16) + (i < 14 ? ":" : "]");
  }
  return text;
}

/** Not an IP socket (for example a Unix socket). */
export const NOT_IP = -1;

/**
 * The local (`getsockname`) or peer (`getpeername`) address of fd as
 * canonical `host:port` text, {@linkcode NOT_IP}, or the errno of the
 * failure (EBADF: no such fd; ENOTSOCK; ENOTCONN: not connected).
 */
export function sockAddrText(
  lib: Libc,
  fd: number,
  which: "getsockname" | "getpeername",
): string | number {
  const sa = sockaddr;
  addrLen[0] = sa.length;
  if (lib.sym[which](fd, sa, addrLen) !== 0) return errnoValue(lib);
  // Linux: u16 family; BSD: u8 length, u8 family. Then the port, big-endian.
  const family = lib.c.bsdSockaddr ? sa[1]! : sa[0]! | (sa[1]! << 8);
  const port = (sa[2]! << 8) | sa[3]!;
  if (family === lib.c.AF_INET) return `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}:${port}`;
  if (family === lib.c.AF_INET6) return `${ip16Text(sa, 8)}:${port}`;
  return NOT_IP;
}

/** The soft RLIMIT_NOFILE: no fd of this process is at or above it. */
export function fdLimit(lib: Libc): number {
  const limit = new BigUint64Array(2);
  if (lib.sym.getrlimit(lib.c.RLIMIT_NOFILE, limit) !== 0) return 1 << 20;
  const soft = limit[0]!;
  return soft > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(soft);
}

const POLLNVAL = 0x20; // the same on Linux and macOS
const POLL_CHUNK = 4096;
const pollFds = new Int32Array(2 * POLL_CHUNK); // struct pollfd { int fd; short events, revents; }
const pollEvents = new Int16Array(pollFds.buffer);

/**
 * Which fds in `[from, from + count)` are open, one `poll` call for all of
 * them: poll marks a closed fd POLLNVAL and never blocks with timeout 0.
 * `count` is at most 4096.
 */
export function openFds(lib: Libc, from: number, count: number): number[] {
  for (let i = 0; i < count; i++) {
    pollFds[2 * i] = from + i;
    pollFds[2 * i + 1] = 0; // events = 0, revents = 0
  }
  if (lib.sym.poll(pollFds, BigInt(count), 0) < 0) throw lastErrno(lib, "poll");
  const open: number[] = [];
  for (let i = 0; i < count; i++) {
    if ((pollEvents[4 * i + 3]! & POLLNVAL) === 0) open.push(from + i);
  }
  return open;
}

export { POLL_CHUNK };

/**
 * The first line of a file, read through libc: Deno 2.9 refuses to read
 * `/proc/sys` without `--allow-all`, while FFI is not checked per path.
 * Returns undefined when the file cannot be opened or is empty.
 */
export function readFirstLine(lib: Libc, path: string): string | undefined {
  const encoder = new TextEncoder();
  const file = lib.sym.fopen(encoder.encode(`${path}\0`), encoder.encode("r\0"));
  if (file === null) return undefined;
  try {
    const line = new Uint8Array(256);
    if (lib.sym.fgets(line, line.length, file) === null) return undefined;
    const end = line.indexOf(0);
    return new TextDecoder().decode(line.subarray(0, end < 0 ? line.length : end));
  } finally {
    lib.sym.fclose(file);
  }
}

/** A uint32 sysctl by name (macOS), or undefined where there is none. */
export function sysctlUint32(lib: Libc, name: string): number | undefined {
  if (lib.sym.sysctlbyname === null) return undefined;
  const value = new Uint32Array(1);
  const size = new BigUint64Array([4n]);
  const cname = new TextEncoder().encode(`${name}\0`);
  if (lib.sym.sysctlbyname(cname, value, size, null, 0n) !== 0) return undefined;
  return value[0];
}
