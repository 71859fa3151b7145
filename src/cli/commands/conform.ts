// xendm conform: the --conform check on a recorded trace, after the fact.
import { CONFORM_TARGETS, ConformReport, Conformance } from "../../conform/index.js";
import { checkTrace } from "../../conform/trace.js";
import { defineCommand, type OptionSpecs } from "../command.js";

const OPTIONS = {
  against: { type: "string", value: "LIB", choices: CONFORM_TARGETS, default: CONFORM_TARGETS[0], help: "the library to compare with" },
  json: { type: "boolean", help: "the report as one JSON object" },
} as const satisfies OptionSpecs;

export const command = defineCommand({
  name: "conform",
  summary: "check the DMOP calls of a trace recorded by 'xendm serve --record' against what libxendevicemodel sends",
  positionals: [{ name: "TRACE.jsonl" }],
  options: OPTIONS,
  details: "Warning lines on stderr, the report on stdout (docs/conformance.md). Exit status: 0 no call differed; 1 a call differed; 2 bad input.",
  async run({ values, positionals: [file] }) {
    const report = new ConformReport(values.against, false);
    checkTrace(file!, await Conformance.create(values.against), report, (l) => { process.stderr.write(`xendm conform: ${l}\n`); });
    process.stdout.write(values.json ? JSON.stringify(report.toJson()) + "\n" : report.format());
    return report.differing > 0 ? 1 : 0;
  },
});
export const { run, summary } = command;
