// xendm exec: start the fake host, run a program under the shim against it, exit with its status.
import { createFakeHost } from "../../transport/fake.js";
import { LaunchError, launchUnderShim } from "../../transport/launch.js";
import { TRACE_FORMAT, TraceWriter } from "../../transport/trace.js";
import { worldFromOptions } from "../../transport/world-file.js";
import { defineCommand, UsageError, type Command, type OptionSpecs, type OptionValues } from "../command.js";
import { CONFORM_OPTIONS, conformSession } from "../conform.js";

const OPTIONS = {
  world: { type: "string", value: "FILE", help: "the world of a scenario file (its steps are ignored)" },
  domain: { type: "string", value: "N", multiple: true, help: "an HVM domain N with the default settings; default 1" },
  xen: { type: "string", value: "PERSONA", choices: ["4.17", "master", "4.9"], help: "with --domain: the Xen version to behave as; default 4.17" },
  trace: { type: "boolean", help: "print every call the fake answered, one JSON line each, on stderr" },
  record: { type: "string", value: "FILE", help: "write every call to FILE (replay with 'xendm replay FILE')" },
  xenstore: { type: "boolean", help: "also serve xenstore (XENSTORED_PATH)" },
  verbose: { type: "boolean", short: "v", help: "log connections and errors to stderr" },
  ...CONFORM_OPTIONS,
} as const satisfies OptionSpecs;

const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

const parsed = defineCommand({
  name: "exec",
  summary: "run a program under the shim against a fresh fake host (exits with the program's status)",
  positionals: [{ name: "-- PROGRAM [ARGS...]", optional: true, rest: true }],
  options: OPTIONS,
  details: [
    "Serves a fresh fake host on a private socket, then runs PROGRAM with LD_PRELOAD (the shim) and",
    "XENDM_SOCKET set; the server is listening before PROGRAM starts. SIGINT, SIGTERM, SIGHUP and SIGQUIT",
    "are passed on to PROGRAM. Exit status: PROGRAM's (128 + N when signal N ended it), 2 for bad usage.",
    "With --conform the report goes to stderr when PROGRAM has exited (stdout is PROGRAM's); with",
    "--conform-strict a PROGRAM that exits 0 after a differing call makes the status 1.",
  ].join("\n"),
  run: ({ values, positionals }) => {
    if (positionals.length > 0) throw new UsageError(`put -- before the program ('xendm exec -- ${positionals.join(" ")}')`);
    return exec(values, program);
  },
});

/** The program and its arguments: everything after the first `--`, never parsed as options. */
let program: string[] = [];

export const command: Command = {
  ...parsed,
  run: (args) => {
    const dash = args.indexOf("--");
    program = dash < 0 ? [] : args.slice(dash + 1);
    return parsed.run(dash < 0 ? args : args.slice(0, dash));
  },
};
export const { run, summary } = command;

async function exec(values: OptionValues<typeof OPTIONS>, program: readonly string[]): Promise<number> {
  if (program.length === 0) throw new UsageError("no program given (xendm exec [options] -- PROGRAM [ARGS...])");
  if (values.xenstore) throw new UsageError("--xenstore: this build has no xenstore server");
  if (values.record !== undefined && values.trace) throw new UsageError("--trace and --record: choose one (replay --record's file to read it)");
  const world = worldFromOptions({ ...values, domain: values.domain.length > 0 ? values.domain : undefined });
  const conform = await conformSession(values, "exec");
  const { device } = createFakeHost(world);
  const header = { xendm_trace: TRACE_FORMAT, world } as const;
  const trace = values.record !== undefined ? new TraceWriter(values.record, header) : values.trace ? new TraceWriter(2, header) : undefined;
  const log = values.verbose ? (l: string) => { process.stderr.write(`xendm exec: ${l}\n`); } : undefined;
  let prog;
  try {
    prog = await launchUnderShim({ argv: [...program], device, stdio: "inherit", ...(trace ? { trace } : {}), ...(log ? { log } : {}), ...(conform ? { observer: conform.observer } : {}) });
  } catch (e) {
    trace?.close();
    if (e instanceof LaunchError) {
      process.stderr.write(`xendm exec: ${e.message}\n`);
      return 127;
    }
    throw e;
  }
  const forward = (sig: NodeJS.Signals): void => { prog.signal(sig); };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    await prog.exited;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    await prog.close();
    trace?.close();
  }
  const status = prog.exitCode ?? 1;
  const strictStatus = conform?.finish(process.stderr) ?? 0;
  return status === 0 ? strictStatus : status;
}
