// The --conform options shared by the commands that serve calls (serve, exec): the observer to hand
// the server, warnings on stderr as calls arrive, the report at the end and the exit status.
import { CONFORM_TARGETS, ConformReport, Conformance, conformObserver, type ConformTarget } from "../conform/index.js";
import type { CallObserver } from "../transport/connection.js";
import { UsageError, type OptionSpecs, type OptionValues } from "./command.js";

export const CONFORM_OPTIONS = {
  conform: {
    type: "string", value: "LIB", choices: CONFORM_TARGETS,
    help: "check every DM_OP and HYPERCALL(dm_op) against what LIB sends for the same call: a warning line per difference, a report at exit (docs/conformance.md)",
  },
  "conform-strict": { type: "boolean", help: `as --conform (default ${CONFORM_TARGETS[0]}); a differing call gets -1/EINVAL without running, and the exit status is 1 when any call differed` },
  json: { type: "boolean", help: "with --conform: the report as one JSON object" },
} as const satisfies OptionSpecs;

export interface ConformRun {
  observer: CallObserver;
  /** Writes the report (to stdout unless told); returns the exit status it calls for (1: strict and something differed). */
  finish(out?: NodeJS.WritableStream): number;
}

/** The conformance run the options ask for, or undefined without --conform / --conform-strict. */
export async function conformRun(values: OptionValues<typeof CONFORM_OPTIONS>, command: string): Promise<ConformRun | undefined> {
  const strict = values["conform-strict"];
  const target: ConformTarget | undefined = values.conform ?? (strict ? CONFORM_TARGETS[0] : undefined);
  if (target === undefined) {
    if (values.json) throw new UsageError("--json is the conformance report's format: give --conform");
    return undefined;
  }
  const report = new ConformReport(target, strict);
  const warn = (l: string): void => { process.stderr.write(`xendm ${command}: conform ${l}\n`); };
  const observer = conformObserver({ check: await Conformance.create(target), report, warn });
  return {
    observer,
    finish: (out = process.stdout) => {
      out.write(values.json ? JSON.stringify(report.toJson()) + "\n" : report.format());
      return strict && report.differing > 0 ? 1 : 0;
    },
  };
}
