// xendm serve: a long-running fake privcmd behind a Unix socket (docs/serve.md, docs/protocol.md).
import { closeSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import type { WorldConfig } from "../../hypervisor/world.js";
import { createFakeHost, worldForDomains } from "../../transport/fake.js";
import { XendmServer } from "../../transport/server.js";
import { TRACE_FORMAT, TraceWriter } from "../../transport/trace.js";
import { readWorldFile } from "../../transport/world-file.js";

export const summary = "serve a fake /dev/xen/privcmd on a Unix socket (for the LD_PRELOAD shim and socket clients)";

const USAGE = `usage: xendm serve --socket PATH [--world FILE | --domain N ...] [--xen 4.17|master|4.9] [--record FILE] [-v]
  --socket PATH   Unix socket to listen on (created mode 0600; a stale one is replaced)
  --world FILE    the world of a scenario file (its steps are ignored)
  --domain N      an HVM domain N with the default settings (repeatable; default: 1)
  --xen PERSONA   with --domain: the Xen version to behave as (default 4.17)
  --record FILE   write every call as JSON lines (replay with 'xendm replay FILE')
  --ready-fd N    when listening, write "ready\n" to file descriptor N and close it
  -v, --verbose   log connections and errors to stderr`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      socket: { type: "string" },
      world: { type: "string" },
      domain: { type: "string", multiple: true },
      xen: { type: "string" },
      record: { type: "string" },
      "ready-fd": { type: "string" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (values.socket === undefined) {
    process.stderr.write(`xendm serve: --socket is required\n${USAGE}\n`);
    return 2;
  }
  if (values.world !== undefined && (values.domain !== undefined || values.xen !== undefined)) {
    process.stderr.write("xendm serve: --world cannot be combined with --domain or --xen\n");
    return 2;
  }
  const readyFd = values["ready-fd"];
  if (readyFd !== undefined && !/^[0-9]{1,9}$/.test(readyFd)) {
    process.stderr.write(`xendm serve: --ready-fd ${readyFd}: not a file descriptor number\n`);
    return 2;
  }
  let world: WorldConfig;
  if (values.world !== undefined) world = readWorldFile(values.world);
  else {
    const domids = (values.domain ?? ["1"]).map((d) => {
      if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(d) || Number(d) < 1 || Number(d) > 0x7fef) throw new Error(`--domain ${d}: not a domain id 1..0x7fef`);
      return Number(d);
    });
    world = worldForDomains(domids);
    if (values.xen !== undefined) world.xen = values.xen as WorldConfig["xen"];
  }
  const { hv, device } = createFakeHost(world);
  const trace = values.record !== undefined ? new TraceWriter(values.record, { xendm_trace: TRACE_FORMAT, world }) : undefined;
  const log = values.verbose === true ? (l: string) => { process.stderr.write(`xendm serve: ${l}\n`); } : undefined;
  const server = new XendmServer({ hv, device, ...(trace ? { trace } : {}), ...(log ? { log } : {}) });
  await server.listen(values.socket);
  process.stderr.write(`xendm serve: listening on ${values.socket}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // Ready only once a SIGTERM would be handled too.
    if (readyFd !== undefined) signalReady(Number(readyFd));
  });
  await server.close();
  trace?.close();
  const s = server.stats;
  process.stderr.write(`xendm serve: stopped (${s.connections} connections, ${s.requests} requests, ${s.errors} errors)\n`);
  return 0;
}

/** The readiness signal: one line on the given descriptor, then it is closed (EOF for the reader). */
function signalReady(fd: number): void {
  try {
    writeSync(fd, "ready\n");
    closeSync(fd);
  } catch (e) {
    process.stderr.write(`xendm serve: --ready-fd ${fd}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}
