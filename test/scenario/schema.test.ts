// schema/scenario.schema.json: every shipped scenario is valid against it, it lists exactly the keys
// and step kinds the parser takes, and it refuses what the parser refuses at the top and step level.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { STEP_ACTIONS, TOP_KEYS } from "../../src/scenario/parse.js";
import { validate } from "./schema-validator.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const schema = JSON.parse(readFileSync(join(ROOT, "schema", "scenario.schema.json"), "utf8")) as {
  properties: Record<string, unknown>;
  $defs: { step: { properties: Record<string, unknown>; oneOf: { required: string[] }[] } };
};
const dir = join(ROOT, "fixtures", "scenarios");
const shipped = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".json")).sort();

describe("the scenario JSON Schema", () => {
  it.each(shipped)("accepts %s", (f) => {
    expect(validate(schema, JSON.parse(readFileSync(join(dir, f), "utf8")))).toBeUndefined();
  });
  it("names the parser's top-level keys and step kinds, no more, no fewer", () => {
    expect(Object.keys(schema.properties).sort()).toEqual([...TOP_KEYS].sort());
    expect(schema.$defs.step.oneOf.map((b) => b.required[0]).sort()).toEqual([...STEP_ACTIONS].sort());
    expect(Object.keys(schema.$defs.step.properties).sort()).toEqual([...STEP_ACTIONS, "expect", "note", "timeout_ms"].sort());
  });
  it.each([
    [{ format: 1, stpes: [] }, /stpes: not allowed/],
    [{ format: 2, steps: [] }, /format: expected 1/],
    [{ xen: "4.18" }, /xen: not one of/],
    [{ steps: [{ dmop: {}, query: {} }] }, /steps\/0: matches 2 of the oneOf/],
    [{ steps: [{ expect: { rc: 0 } }] }, /steps\/0: matches 0 of the oneOf/],
    [{ steps: [{ dmop: {}, expcet: {} }] }, /steps\/0\/expcet: not allowed/],
    [{ domains: [{ vcpus: 2 }] }, /domains\/0: missing domid/],
  ])("refuses %j", (doc, msg) => {
    expect(validate(schema, doc)).toMatch(msg);
  });
});
