/**
 * The probe's experiment shape and its Lab (the kit's, with Go peers).
 * Internal to the probe.
 *
 * @module
 */

import { Lab as KitLab } from "../_kit/lab.ts";
import type { GoCases, GoPeer, GoResult } from "./_go.ts";

/** What one experiment measured. */
export interface Outcome {
  /** What happened here, in a few words with the numbers. */
  netconn: string;
  /** The same experiment on a raw `Deno.Conn`, when it was measured. */
  raw?: string;
  /** The measured numbers, by name (bytes, ms, counts). */
  numbers: Record<string, number>;
  /** Measured words, by name, e.g. `{ error: "reset" }` (a NetError's kind). */
  facts?: Record<string, string>;
  /** True when netconn behaved as Go's contract says. */
  ok: boolean;
  /** Tables printed below the probe's own (the write-block sweep's grid). */
  tables?: ProbeTable[];
}

/** A table of an experiment's own, printed after the probe's table. */
export interface ProbeTable {
  /** What the table shows, on the line above it. */
  title: string;
  /** The column headers. */
  head: string[];
  /** The cells, a row at a time, as many as `head` has. */
  rows: string[][];
  /** What the table's marks mean, on the lines under it. */
  note?: string;
}

/** Whether a row's figures and Go's agree, and if not, how they differ. */
export interface Agreement {
  /** True when netconn did what Go did, figure for figure within the row's tolerance. */
  agree: boolean;
  /** What differs (or, when they agree, the figures set side by side). */
  note?: string;
  /**
   * Set when Go could measure only part of the row (an API the Go measured
   * lacks): what was compared with Go's documentation instead, and why. The
   * row is then "documented", not "as Go".
   */
  documented?: string;
}

/** One of the article's experiments: a row of the probe's table. */
export interface Experiment {
  /** The case, e.g. `"write blocking"`. */
  name: string;
  /** What Go does, in a few words, as Go documents it: the Go column when Go is not measured. */
  go: string;
  /**
   * The case of the probe's Go program (`go/probe/`) that measures the same
   * thing with Go, when there is one; its figures are set beside netconn's.
   */
  goCase?: string;
  /**
   * Compares Go's measured figures with this row's; needed with `goCase`. A
   * difference here fails the row (after new attempts); a difference netconn
   * makes on purpose belongs in `decision`, not here.
   */
  compare?(go: GoResult, ours: Outcome): Agreement;
  /**
   * For a row where netconn differs from Go on purpose: given this run's
   * outcome and Go's figures (undefined when Go was not measured), the
   * decision's reason as the README states it when the run shows the
   * difference, else undefined. Such a row counts as a difference and does
   * not fail the probe.
   */
  decision?(ours: Outcome, go: GoResult | undefined): string | undefined;
  /** Why the row has no Go program, when it has none (Go cannot do it). */
  unmeasured?: string;
  /** True when the experiment runs a Go peer (a cross-runtime row): without Go it is skipped. */
  needsGo?: boolean;
  /** The experiment's time limit in milliseconds. @default {5000} */
  limitMs?: number;
  /**
   * Permissions beyond `--allow-net` the experiment needs (e.g. `"ffi"` for a
   * socket option set through libc). Without them its row says so and is
   * skipped, which does not fail the probe.
   */
  needs?: Deno.PermissionName[];
  /** Runs the experiment; everything it opens through `lab` is closed afterwards. */
  run(lab: Lab): Promise<Outcome>;
}

/**
 * The probe's Lab: the kit's {@linkcode KitLab}, which owns what one
 * experiment opens and closes it when the experiment ends or runs out of
 * time, with Go peers for the cross-runtime rows.
 */
export class Lab extends KitLab {
  #go: GoCases | undefined;

  /** A lab; `go` runs Go peers for the cross-runtime rows. */
  constructor(go?: GoCases) {
    super();
    this.#go = go;
  }

  /** True when Go runs beside this lab's experiment. */
  get hasGo(): boolean {
    return this.#go !== undefined;
  }

  /**
   * What a case of the Go program measured when run alone: the run the
   * probe made before this experiment (a runner remembers it), or
   * undefined without Go.
   */
  async goResult(goCase: string): Promise<GoResult | undefined> {
    return await this.#go?.run(goCase);
  }

  /**
   * Starts a case of the Go program as a peer (see {@linkcode GoCases.spawn});
   * it is killed, if still running, when the lab closes.
   */
  goPeer(goCase: string, addr?: string): GoPeer {
    this.checkOpen();
    if (this.#go === undefined) throw new Error("This row needs Go");
    const peer = this.#go.spawn(goCase, addr);
    return this.track(peer, () => peer.close());
  }
}
