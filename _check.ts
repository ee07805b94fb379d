/**
 * Argument checks at every public boundary, shared by the conn core, bufio
 * and sockopt, with one message style: `<where> takes <what>: received
 * <value>` for an argument and `<where> option "<name>" must be <what>:
 * received <value>` for an option. A wrong type is a TypeError, a value out
 * of range a RangeError. Values are quoted with control characters escaped.
 * Internal.
 *
 * @module
 */

/** The longest quoted string in a message; longer ones are cut with "…". */
const MAX_QUOTED = 40;

/**
 * A value as error messages show it: its type, and the value itself where
 * it is short (`a string "a\nb"`, `the number NaN`, `an AbortController`).
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "string":
      return `a string ${quote(value)}`;
    case "number":
      return `the number ${String(value)}`;
    case "bigint":
      return `the bigint ${String(value)}n`;
    case "boolean":
      return `the boolean ${String(value)}`;
    case "symbol":
      return `a symbol`;
    case "function":
      return "a function";
  }
  if (Array.isArray(value)) return "an array";
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name !== "string" || name === "" || name === "Object") return "an object";
  return /^[AEIO]/.test(name) ? `an ${name}` : `a ${name}`;
}

/** `s` in double quotes, control characters and quotes escaped, cut at 40 characters. */
export function quote(s: string): string {
  const cut = s.length > MAX_QUOTED ? s.slice(0, MAX_QUOTED) : s;
  const text = JSON.stringify(cut).slice(1, -1);
  return `"${text}${cut === s ? "" : "…"}"`;
}

/** Throws a TypeError unless `p` is a Uint8Array. */
export function checkBytes(p: unknown, where: string): asserts p is Uint8Array {
  if (!(p instanceof Uint8Array)) {
    throw new TypeError(`${where} takes a Uint8Array: received ${describe(p)}`);
  }
}

/** Throws a TypeError unless `s` is a string. */
export function checkString(s: unknown, where: string): asserts s is string {
  if (typeof s !== "string") {
    throw new TypeError(`${where} takes a string: received ${describe(s)}`);
  }
}

/**
 * Throws a TypeError unless `options` is undefined or an object (not null,
 * not an array); returns it, or an empty object for undefined.
 */
export function checkOptions<T extends object>(
  options: T | undefined,
  where: string,
  known?: readonly string[],
): T {
  if (options === undefined) return {} as T;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`${where} takes an options object: received ${describe(options)}`);
  }
  if (known !== undefined) checkKeys(options, where, known);
  return options;
}

/**
 * Throws a TypeError naming the first key of `options` that is not in
 * `known`: a misspelt option (`{ timout: 100 }`) is an error, not ignored.
 */
export function checkKeys(options: object, where: string, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `${where} has no option ${quote(key)}: it takes ${known.map((k) => `"${k}"`).join(", ")}`,
      );
    }
  }
}

/**
 * Throws unless the option is undefined or a number (TypeError) that is not
 * NaN (RangeError): a relative timeout in milliseconds.
 */
export function checkTimeoutOption(
  value: unknown,
  where: string,
): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== "number") throw optionError(where, "timeout", "milliseconds", value);
  if (Number.isNaN(value)) {
    throw new RangeError(`${where} option "timeout" must not be NaN: received ${describe(value)}`);
  }
}

/** Throws a TypeError unless the option is undefined or an AbortSignal. */
export function checkSignal(
  signal: unknown,
  where: string,
): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw optionError(where, "signal", "an AbortSignal", signal);
  }
}

/** Throws a TypeError unless the option is undefined or a boolean. */
export function checkBooleanOption(
  value: unknown,
  where: string,
  name: string,
): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    throw optionError(where, name, "a boolean", value);
  }
}

/** Throws a TypeError unless `value` is a boolean. */
export function checkBoolean(value: unknown, where: string): asserts value is boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${where} takes a boolean: received ${describe(value)}`);
  }
}

/**
 * Throws unless `value` is a number (TypeError) that is an integer from
 * `min` to `max` (RangeError).
 */
export function checkInteger(
  value: unknown,
  where: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${where} takes an integer: received ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${where} takes an integer from ${min} to ${max}: received ${describe(value)}`,
    );
  }
}

/**
 * Throws unless the option is undefined or a number (TypeError) that is
 * finite (RangeError).
 */
export function checkFiniteOption(
  value: unknown,
  where: string,
  name: string,
): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== "number") throw optionError(where, name, "a number", value);
  if (!Number.isFinite(value)) {
    throw new RangeError(`${where} option "${name}" must be finite: received ${describe(value)}`);
  }
}

/** The TypeError for an option of the wrong type. */
export function optionError(where: string, name: string, want: string, value: unknown): TypeError {
  return new TypeError(`${where} option "${name}" must be ${want}: received ${describe(value)}`);
}

/**
 * Runs `check` and returns undefined, or the error it threw: for methods
 * that return a promise, which reject rather than throw.
 */
export function checked(check: () => void): Error | undefined {
  try {
    check();
    return undefined;
  } catch (e) {
    return e as Error;
  }
}
