// The API reference (TypeDoc over the package root): no broken links, and no export without a doc
// comment beyond the known list (docs/api-undocumented.txt), which may only shrink.
import { describe, expect, it } from "vitest";
import { baseline, runTypedoc } from "../../scripts/api-docs-check.js";

describe("API reference", () => {
  it("has no broken links and no newly undocumented export", () => {
    const rep = runTypedoc();
    expect(rep.links).toEqual([]);
    expect(rep.other).toEqual([]);
    const known = new Set(baseline());
    expect(rep.undocumented.filter((u) => !known.has(u)), "document these exports (a /** */ comment)").toEqual([]);
    const fixed = [...known].filter((u) => !rep.undocumented.includes(u));
    expect(fixed, "now documented: remove them from docs/api-undocumented.txt (npm run docs:check -- --update)").toEqual([]);
  }, 300_000);
});
