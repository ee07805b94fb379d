/**
 * Every row of the probe, in the order it prints them. To add a row, write an
 * {@linkcode Experiment} (in the file of its concern, or a new one beside it)
 * and list it here.
 *
 * @module
 */

import type { Experiment } from "./_lab.ts";
import { closeExperiments } from "./close.ts";
import { concurrentExperiments } from "./concurrent.ts";
import { crossExperiments } from "./cross.ts";
import { dialExperiments } from "./dial.ts";
import { listenExperiments } from "./listen.ts";
import { optionExperiments } from "./nagle.ts";
import { readExperiments } from "./read.ts";
import { sockoptExperiments } from "./sockopt.ts";
import { startTlsServer } from "./starttls.ts";
import { transportExperiments } from "./transports.ts";
import { sweepDiagonal, sweepFull } from "./sweep.ts";
import { writeExperiments } from "./write.ts";

export type { Experiment, Outcome } from "./_lab.ts";

/** The probe's experiments, one row each. */
export const experiments: readonly Experiment[] = [
  ...writeExperiments,
  ...concurrentExperiments,
  ...readExperiments,
  ...closeExperiments,
  ...dialExperiments,
  ...crossExperiments,
  ...optionExperiments,
  ...sockoptExperiments,
  ...listenExperiments,
  ...transportExperiments,
  startTlsServer,
  sweepDiagonal,
];

/** The same rows with `--sweep`: the threshold sweep covers the whole grid. */
export const sweepExperiments: readonly Experiment[] = experiments.map((e) =>
  e === sweepDiagonal ? sweepFull : e
);
