import { describe, expect, it } from "vitest";
import { jsonErrorAt } from "../../src/scenario/json-error.js";

describe("jsonErrorAt", () => {
  it.each([
    ['{"a": 1}', undefined],
    ['[1, 2.5e3, "x\\u00e9", true, false, null, {"k": []}]', undefined],
    ['{"a": 1,}', { line: 1, column: 9, expected: "a key in double quotes" }],
    ['{\n  "a": [1 2]\n}', { line: 2, column: 11, expected: "',' or ']'" }],
    ["{'a': 1}", { line: 1, column: 2, expected: "a key in double quotes" }],
    ['{"a": 01}', { line: 1, column: 8, expected: "',' or '}'" }],
    ['{"a": "x', { line: 1, column: 9, expected: "the end of the string" }],
    ["[1] x", { line: 1, column: 5, expected: "the end of the text" }],
    ["", { line: 1, column: 1, expected: "a value" }],
  ])("%j", (text, want) => {
    const got = jsonErrorAt(text);
    if (want === undefined) {
      expect(got).toBeUndefined();
      expect(() => JSON.parse(text) as unknown).not.toThrow();
    } else {
      expect(got).toMatchObject(want);
      expect(() => JSON.parse(text) as unknown).toThrow();
    }
  });
  it("refuses deep nesting without recursing without bound", () => {
    expect(jsonErrorAt("[".repeat(100_000))).toMatchObject({ expected: "less nesting" });
  });
});
