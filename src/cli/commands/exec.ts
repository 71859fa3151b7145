// xendm exec: start the fake host, run a program under the shim against it, exit with its status.
import { parseArgs } from "node:util";
import { createFakeHost } from "../../transport/fake.js";
import { LaunchError, launchUnderShim } from "../../transport/launch.js";
import { TRACE_FORMAT, TraceWriter } from "../../transport/trace.js";
import { worldFromOptions } from "../../transport/world-file.js";

export const summary = "run a program under the shim against a fresh fake host (exits with the program's status)";

const USAGE = `usage: xendm exec [--world FILE | --domain N ...] [--xen 4.17|master|4.9] [--trace] [--record FILE] [-v] -- PROGRAM [ARGS...]
  Serves a fresh fake host on a private socket, then runs PROGRAM with LD_PRELOAD (the shim) and
  XENDM_SOCKET set; the server is listening before PROGRAM starts. SIGINT, SIGTERM, SIGHUP and SIGQUIT
  are passed on to PROGRAM. Exit status: PROGRAM's (128 + N when signal N ended it), 2 for bad usage.
  --world FILE    the world of a scenario file (its steps are ignored)
  --domain N      an HVM domain N with the default settings (repeatable; default: 1)
  --xen PERSONA   with --domain: the Xen version to behave as (default 4.17)
  --trace         print every call the fake answered, one JSON line each, on stderr
  --record FILE   write every call to FILE (replay with 'xendm replay FILE')
  --xenstore      also serve xenstore (XENSTORED_PATH): not available in this build
  -v, --verbose   log connections and errors to stderr`;

const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

export async function run(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const own = dash < 0 ? args : args.slice(0, dash);
  const program = dash < 0 ? [] : args.slice(dash + 1);
  const { values, positionals } = parseArgs({
    args: own,
    options: {
      world: { type: "string" },
      domain: { type: "string", multiple: true },
      xen: { type: "string" },
      trace: { type: "boolean" },
      record: { type: "string" },
      xenstore: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (positionals.length > 0) {
    process.stderr.write(`xendm exec: put -- before the program ('xendm exec -- ${positionals.join(" ")}')\n${USAGE}\n`);
    return 2;
  }
  if (program.length === 0) {
    process.stderr.write(`xendm exec: no program given\n${USAGE}\n`);
    return 2;
  }
  if (values.xenstore === true) {
    process.stderr.write("xendm exec: --xenstore: this build has no xenstore server\n");
    return 2;
  }
  const world = worldFromOptions(values);
  const { device } = createFakeHost(world);
  const header = { xendm_trace: TRACE_FORMAT, world } as const;
  const trace = values.record !== undefined ? new TraceWriter(values.record, header) : values.trace === true ? new TraceWriter(2, header) : undefined;
  if (values.record !== undefined && values.trace === true) {
    process.stderr.write("xendm exec: --trace and --record: choose one (replay --record's file to read it)\n");
    return 2;
  }
  const log = values.verbose === true ? (l: string) => { process.stderr.write(`xendm exec: ${l}\n`); } : undefined;
  let prog;
  try {
    prog = await launchUnderShim({ argv: program, device, stdio: "inherit", ...(trace ? { trace } : {}), ...(log ? { log } : {}) });
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
  return prog.exitCode ?? 1;
}
