// xendm replay: re-runs a recorded trace on a fresh fake and reports the first divergence.
import { parseArgs } from "node:util";
import { replayTrace } from "../../transport/replay.js";

export const summary = "re-run a trace recorded by 'xendm serve --record' and report the first divergence";

const USAGE = "usage: xendm replay TRACE.jsonl\n  exit 0: every call gave the recorded result; 1: a divergence; 2: bad input";

export function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  if (values.help === true) {
    process.stdout.write(USAGE + "\n");
    return Promise.resolve(0);
  }
  const [file, ...more] = positionals;
  if (file === undefined || more.length > 0) {
    process.stderr.write(USAGE + "\n");
    return Promise.resolve(2);
  }
  const r = replayTrace(file);
  if (r.divergence === undefined) {
    process.stdout.write(`replay: ${r.calls} calls, no divergence\n`);
    return Promise.resolve(0);
  }
  const d = r.divergence;
  process.stdout.write(
    `replay: divergence at ${file}:${d.line} (connection ${d.conn}, ${d.kind}, call ${r.calls}): ${d.field} recorded ${JSON.stringify(d.recorded)}, replayed ${JSON.stringify(d.replayed)}\n`,
  );
  return Promise.resolve(1);
}
