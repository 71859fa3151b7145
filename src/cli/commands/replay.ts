// xendm replay: re-runs a recorded trace on a fresh fake and reports the first divergence.
import { replayTrace } from "../../transport/replay.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  name: "replay",
  summary: "re-run a trace recorded by 'xendm serve --record' and report the first divergence",
  positionals: [{ name: "TRACE.jsonl" }],
  options: {},
  details: "exit status: 0 every call gave the recorded result; 1 a divergence; 2 bad input",
  run({ positionals: [file] }) {
    const r = replayTrace(file!);
    if (r.divergence === undefined) {
      process.stdout.write(`replay: ${r.calls} calls, no divergence\n`);
      return 0;
    }
    const d = r.divergence;
    process.stdout.write(
      `replay: divergence at ${file!}:${d.line} (connection ${d.conn}, ${d.kind}, call ${r.calls}): ${d.field} recorded ${JSON.stringify(d.recorded)}, replayed ${JSON.stringify(d.replayed)}\n`,
    );
    return 1;
  },
});
export const { run, summary } = command;
