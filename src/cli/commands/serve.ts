// xendm serve: a long-running fake privcmd behind a Unix socket (docs/serve.md, docs/protocol.md).
import { closeSync, writeSync } from "node:fs";
import type { WorldConfig } from "../../hypervisor/world.js";
import { createFakeHost, worldForDomains } from "../../transport/fake.js";
import { XendmServer } from "../../transport/server.js";
import { TRACE_FORMAT, TraceWriter } from "../../transport/trace.js";
import { readWorldFile } from "../../transport/world-file.js";
import { defineCommand, UsageError, type OptionSpecs, type OptionValues } from "../command.js";
import { CONFORM_OPTIONS, conformRun } from "../conform.js";
import { serveXenstore } from "../xenstore-serve.js";

const OPTIONS = {
  socket: { type: "string", value: "PATH", help: "Unix socket to listen on (created mode 0600; a stale one is replaced); required" },
  world: { type: "string", value: "FILE", help: "the world of a scenario file (its steps are ignored)" },
  domain: { type: "string", value: "N", multiple: true, help: "an HVM domain N with the default settings; default 1" },
  xen: { type: "string", value: "PERSONA", choices: ["4.17", "master", "4.9"], help: "with --domain: the Xen version to behave as; default 4.17" },
  record: { type: "string", value: "FILE", help: "write every call as JSON lines (replay with 'xendm replay FILE')" },
  xenstore: { type: "string", value: "PATH", help: "also serve a xenstored: dom0 tools on PATH (XENSTORED_PATH), domain d's clients on PATH.d<d>" },
  "ready-fd": { type: "string", value: "N", help: "when listening, write \"ready\\n\" to file descriptor N and close it" },
  verbose: { type: "boolean", short: "v", help: "log connections and errors to stderr" },
  ...CONFORM_OPTIONS,
} as const satisfies OptionSpecs;

export const command = defineCommand({
  name: "serve",
  summary: "serve a fake /dev/xen/privcmd on a Unix socket (for the LD_PRELOAD shim and socket clients)",
  options: OPTIONS,
  details: "Runs until SIGINT or SIGTERM; exit status 0 after a clean stop (1 with --conform-strict when a call differed), 2 on bad options.",
  run: ({ values }) => serve(values),
});
export const { run, summary } = command;

async function serve(values: OptionValues<typeof OPTIONS>): Promise<number> {
  if (values.socket === undefined) throw new UsageError("--socket is required");
  if (values.world !== undefined && (values.domain.length > 0 || values.xen !== undefined)) {
    throw new UsageError("--world cannot be combined with --domain or --xen");
  }
  const readyFd = values["ready-fd"];
  if (readyFd !== undefined && !/^[0-9]{1,9}$/.test(readyFd)) throw new UsageError(`--ready-fd ${readyFd}: not a file descriptor number`);
  let world: WorldConfig;
  if (values.world !== undefined) world = readWorldFile(values.world);
  else {
    const domids = (values.domain.length > 0 ? values.domain : ["1"]).map((d) => {
      if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(d) || Number(d) < 1 || Number(d) > 0x7fef) throw new UsageError(`--domain ${d}: not a domain id 1..0x7fef`);
      return Number(d);
    });
    world = worldForDomains(domids);
    if (values.xen !== undefined) world.xen = values.xen;
  }
  const conform = await conformRun(values, "serve");
  const { hv, device } = createFakeHost(world);
  const trace = values.record !== undefined ? new TraceWriter(values.record, { xendm_trace: TRACE_FORMAT, world }) : undefined;
  const log = values.verbose ? (l: string) => { process.stderr.write(`xendm serve: ${l}\n`); } : undefined;
  const server = new XendmServer({ hv, device, ...(trace ? { trace } : {}), ...(log ? { log } : {}), ...(conform ? { observer: conform.observer } : {}) });
  await server.listen(values.socket);
  process.stderr.write(`xendm serve: listening on ${values.socket}\n`);
  const xs = values.xenstore === undefined ? undefined : await serveXenstore(hv, values.xenstore, values.world, log);
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
  await xs?.close();
  trace?.close();
  const s = server.stats;
  process.stderr.write(`xendm serve: stopped (${s.connections} connections, ${s.requests} requests, ${s.errors} errors)\n`);
  return conform?.finish() ?? 0;
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
