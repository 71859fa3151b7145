// `xendm replay` on an incomplete or mistyped trace line: an error naming the line and the field.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readTrace, replayTrace } from "../../src/transport/replay.js";

const HEADER = '{"xendm_trace":1,"world":{"domains":[{"domid":1}]}}';
const HELLO = '{"conn":1,"kind":"hello","caller":0,"abi":0,"name":"t"}';

function trace(...lines: string[]): string {
  const p = join(mkdtempSync(join(tmpdir(), "xendm-replay-")), "t.jsonl");
  writeFileSync(p, [HEADER, ...lines].join("\n") + "\n");
  return p;
}

describe("replay of incomplete trace lines", () => {
  const cases: [string, RegExp][] = [
    ['{"conn":1,"kind":"dm_op","dom":1}', /:3: incomplete dm_op line: "num" is missing/],
    ['{"conn":1,"kind":"dm_op","dom":1,"num":1,"bufs":[{"size":"8"}],"ret":0,"errno":0,"out":[]}', /:3: dm_op line: "bufs" must be a list of \{size, flags, in\}/],
    ['{"conn":1,"kind":"hypercall","op":"x","args":[],"bufs":[],"ret":0,"errno":0,"out":[]}', /:3: hypercall line: "op" must be a u64/],
    ['{"conn":1,"kind":"hypercall","op":"1","args":["-1"],"bufs":[],"ret":0,"errno":0,"out":[]}', /"args" must be a list of u64 strings/],
    ['{"conn":1,"kind":"abandoned","of":"restrict","bufs":[],"passes":2,"out":[]}', /abandoned line: "of" must be "dm_op" or "hypercall"/],
    ['{"conn":1,"kind":"abandoned","of":"dm_op","dom":1,"bufs":[],"passes":2,"out":[]}', /incomplete abandoned line: "num" is missing/],
    ['{"conn":1,"kind":"abandoned","of":"hypercall","op":"41","bufs":[],"passes":2,"out":[]}', /incomplete abandoned line: "args" is missing/],
    ['{"conn":1,"kind":"abandoned","of":"dm_op","dom":1,"num":1,"bufs":[],"out":[]}', /incomplete abandoned line: "passes" is missing/],
    ['{"conn":1,"kind":"hello"}', /incomplete hello line: "caller" is missing/],
    ['{"conn":1,"kind":"toString"}', /unknown kind "toString"/],
    ['{"kind":"close"}', /"conn" must be an integer/],
    ["[1,2]", /not a trace call/],
    ['{"conn":1,"kind":"dm_op","dom":1,', /:3: /],
  ];
  for (const [line, msg] of cases) {
    it(line, () => {
      const p = trace(HELLO, line);
      expect(() => readTrace(p)).toThrow(msg);
      expect(() => replayTrace(p)).toThrow(/t\.jsonl:\d+: /);
    });
  }
  it("an abandoned call that now returns in its first slice diverges on its passes", () => {
    const nrVcpus = "14" + "00".repeat(31);
    const line = `{"conn":1,"kind":"abandoned","of":"dm_op","dom":1,"num":1,"bufs":[{"size":"32","flags":0,"in":"${nrVcpus}"}],"passes":5,"out":["${nrVcpus}"]}`;
    expect(replayTrace(trace(HELLO, line)).divergence).toMatchObject({ line: 3, kind: "abandoned", field: "passes", recorded: 5, replayed: "returned in its first slice" });
  });
  it("a complete trace still replays", () => {
    expect(replayTrace(trace(HELLO, '{"conn":1,"kind":"close"}'))).toEqual({ calls: 1 });
  });
});
