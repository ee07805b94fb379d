/**
 * The system clock's timers for deadlines: every deadline of the process
 * shares ONE runtime timer (unref'd, so it never keeps the process alive),
 * armed for the earliest entry of a min-heap, as Go's runtime keeps its
 * timers in a heap. An armed deadline costs an entry, not a runtime timer,
 * and deadlines that pass together fire from one callback (256 at a time, so
 * I/O runs between batches). Internal.
 *
 * @module
 */

/** A scheduled call. */
export interface TimerEntry {
  at: number; // when due, on the monotonic clock (performance.now()), so a wall-clock step moves nothing
  fn: () => void;
  index: number; // position in `heap`, or -1 once fired or cancelled
}

/** setTimeout's largest delay: longer ones fire at once, so far times are re-armed in steps. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const heap: TimerEntry[] = []; // heap[i].at <= heap[2i + 1].at, heap[2i + 2].at
let runtimeTimer: ReturnType<typeof setTimeout> | null = null;
let runtimeAt = Infinity; // when runtimeTimer fires

/** Calls `fn` after `ms` milliseconds, unless cancelled first. */
export function schedule(fn: () => void, ms: number): TimerEntry {
  const entry: TimerEntry = { at: performance.now() + ms, fn, index: heap.length };
  heap.push(entry);
  siftUp(entry);
  if (entry.index === 0) armRuntimeTimer();
  return entry;
}

/** Cancels a scheduled call; a fired or cancelled one is left alone. */
export function cancel(entry: TimerEntry): void {
  const i = entry.index;
  if (i < 0) return;
  entry.index = -1;
  const last = heap.pop()!;
  if (heap.length === 0 && runtimeTimer !== null) {
    clearTimeout(runtimeTimer); // nothing left to wait for
    runtimeTimer = null;
    runtimeAt = Infinity;
  }
  if (last === entry) return;
  heap[i] = last;
  last.index = i;
  siftDown(last);
  siftUp(last);
  // An earlier runtime timer is left to fire; it re-arms for what is due next.
}

function armRuntimeTimer(): void {
  const first = heap[0];
  if (first === undefined || (runtimeTimer !== null && runtimeAt <= first.at)) return;
  if (runtimeTimer !== null) clearTimeout(runtimeTimer);
  runtimeAt = first.at;
  const timer = setTimeout(onRuntimeTimer, Math.max(0, first.at - performance.now()));
  Deno.unrefTimer(timer);
  runtimeTimer = timer;
}

/** Entries fired per runtime timer callback, so that I/O runs between batches. */
const BATCH = 256;

function onRuntimeTimer(): void {
  runtimeTimer = null;
  runtimeAt = Infinity;
  const now = performance.now();
  const due: TimerEntry[] = [];
  while (heap.length > 0 && heap[0]!.at <= now && due.length < BATCH) {
    const entry = heap[0]!;
    cancel(entry);
    due.push(entry);
  }
  armRuntimeTimer();
  for (const entry of due) {
    try {
      entry.fn();
    } catch (e) {
      reportError(e);
    }
  }
}

function siftUp(entry: TimerEntry): void {
  let i = entry.index;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent]!;
    if (p.at <= entry.at) break;
    heap[i] = p;
    p.index = i;
    i = parent;
  }
  heap[i] = entry;
  entry.index = i;
}

function siftDown(entry: TimerEntry): void {
  let i = entry.index;
  const n = heap.length;
  while (true) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && heap[r]!.at < heap[l]!.at ? r : l;
    const child = heap[c]!;
    if (child.at >= entry.at) break;
    heap[i] = child;
    child.index = i;
    i = c;
  }
  heap[i] = entry;
  entry.index = i;
}

/** What is scheduled now: entries waiting, and whether the runtime timer is armed. */
export function timerState(): { entries: number; runtimeTimer: boolean } {
  return { entries: heap.length, runtimeTimer: runtimeTimer !== null };
}

/**
 * Resolves after one real turn of the event loop, in which timers, I/O
 * callbacks and other tasks run: about 50 µs here. (A resolved promise or an
 * op the runtime completes at once resolves within the same turn.)
 */
export function nextTurn(): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  return new Promise<void>((resolve) => {
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
    port2.close();
  });
}
