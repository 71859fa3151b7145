// xendm exec: start the fake host, run a program under the shim against it, exit with its status.
import { createFakeHost } from "../../transport/fake.js";
import { LaunchError, launchUnderShim } from "../../toolstack/launch.js";
import { TRACE_FORMAT, TraceWriter } from "../../transport/trace.js";
import { worldFromOptions } from "../../transport/world-file.js";
import { defineCommand, UsageError, type Command, type OptionSpecs, type OptionValues } from "../command.js";
import { CONFORM_OPTIONS, conformRun } from "../conform.js";
import { privateXenstore } from "../xenstore-serve.js";

const OPTIONS = {
  world: { type: "string", value: "FILE", help: "the world of a scenario file (its steps are ignored)" },
  domain: { type: "string", value: "N", multiple: true, help: "an HVM domain N with the default settings; default 1" },
  xen: { type: "string", value: "PERSONA", choices: ["4.17", "master", "4.9"], help: "with --domain: the Xen version to behave as; default 4.17" },
  trace: { type: "boolean", help: "print every call the fake answered, one JSON line each, on stderr" },
  record: { type: "string", value: "FILE", help: "write every call to FILE (replay with 'xendm replay FILE')" },
  xenstore: { type: "boolean", help: "also serve a xenstored on a private socket, named to PROGRAM by XENSTORED_PATH (docs/xenstore.md)" },
  verbose: { type: "boolean", short: "v", help: "log connections and errors to stderr" },
  ...CONFORM_OPTIONS,
} as const satisfies OptionSpecs;

const DETAILS = `Serves a fresh fake host on a private socket, then runs PROGRAM with LD_PRELOAD (the shim) and
XENDM_SOCKET set: the server is listening before PROGRAM starts. SIGINT, SIGTERM, SIGHUP and SIGQUIT
are passed on to PROGRAM.
exit status: PROGRAM's (128 + N when signal N ended it), 127 when it cannot be started, 2 bad options.
With --conform the report goes to stderr when PROGRAM has exited (stdout is PROGRAM's); with
--conform-strict a PROGRAM that exits 0 after a differing call makes the status 1.`;

const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/** The program after `--` (null: there was no `--`), handed from the wrapper below to the parsed command. */
let program: string[] | null = null;

const base = defineCommand({
  name: "exec",
  summary: "run a program under the shim against a fresh fake host, exit with its status",
  positionals: [{ name: "-- PROGRAM [ARGS]", optional: true, rest: true }],
  options: OPTIONS,
  details: DETAILS,
  run: ({ values, positionals }) => {
    if (program === null && positionals.length > 0) throw new UsageError(`put -- before the program ('xendm exec -- ${positionals.join(" ")}')`);
    return execute(values, program ?? []);
  },
});

/** Splits at the first `--`: the options before it are this command's, the rest is the program. */
export const command: Command = {
  ...base,
  run: (args) => {
    const dash = args.indexOf("--");
    program = dash < 0 ? null : args.slice(dash + 1);
    return base.run(dash < 0 ? args : args.slice(0, dash));
  },
};
export const { run, summary } = command;

async function execute(values: OptionValues<typeof OPTIONS>, argv: readonly string[]): Promise<number> {
  if (argv.length === 0) throw new UsageError("no program given (xendm exec [options] -- PROGRAM [ARGS...])");
  if (values.trace && values.record !== undefined) throw new UsageError("--trace and --record: choose one");
  let world;
  try {
    world = worldFromOptions({ world: values.world, domain: values.domain.length > 0 ? values.domain : undefined, xen: values.xen });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const conform = await conformRun(values, "exec");
  const { device, hv } = createFakeHost(world);
  const header = { xendm_trace: TRACE_FORMAT, world } as const;
  const trace = values.record !== undefined ? new TraceWriter(values.record, header) : values.trace ? new TraceWriter(2, header) : undefined;
  const log = values.verbose ? (l: string) => { process.stderr.write(`xendm exec: ${l}\n`); } : undefined;
  const xs = values.xenstore ? await privateXenstore(hv, values.world, log) : undefined;
  let prog;
  try {
    prog = await launchUnderShim({
      argv, device, hv, stdio: "inherit", ...(xs !== undefined ? { env: { XENSTORED_PATH: xs.path } } : {}),
      ...(trace ? { trace } : {}), ...(log ? { log } : {}), ...(conform ? { observer: conform.observer } : {}),
    });
  } catch (e) {
    trace?.close();
    await xs?.close();
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
    await xs?.close();
    trace?.close();
  }
  const rc = prog.exitCode ?? 1;
  const strict = conform?.finish(process.stderr) ?? 0;
  return rc !== 0 ? rc : strict;
}
