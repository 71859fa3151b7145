// The codec's layouts and constants against the C probe (fixtures/layouts/<arch>.json): every type,
// field and constant in the fixture must equal the codec's, and the codec may have nothing the C
// headers lack.
import { describe, expect, it } from "vitest";
import { layout } from "../../src/codec/index.js";
import { ARCHES, loadLayout, type FixtureField } from "./probe-fixtures-load.js";

function fieldText(f: FixtureField): string {
  const bits = f.bit_offset !== undefined ? ` bits ${f.bit_offset}+${f.bit_width ?? "?"}` : "";
  return `${f.name}@${f.offset}+${f.size}${bits}`;
}

describe.each(ARCHES)("layouts %s", (arch) => {
  const want = loadLayout(arch);

  it("every type and field equals the C probe, and vice versa", () => {
    const got = layout(undefined, { arch });
    expect(got.arch).toBe(arch);
    const gotTypes = new Map(got.types.map((t) => [t.name, t]));
    const wantTypes = new Map(want.types.map((t) => [t.name, t]));
    const problems: string[] = [];
    for (const w of want.types) {
      const g = gotTypes.get(w.name);
      if (g === undefined) {
        problems.push(`${w.name}: missing in codec`);
        continue;
      }
      if (g.size !== w.size) problems.push(`${w.name}: size C ${w.size}, codec ${g.size}`);
      if (g.align !== w.align) problems.push(`${w.name}: align C ${w.align}, codec ${g.align}`);
      const wf = w.fields.map(fieldText).join(" ");
      const gf = g.fields.map((f) => fieldText(f)).join(" ");
      if (wf !== gf) problems.push(`${w.name}: fields C [${wf}], codec [${gf}]`);
    }
    for (const g of got.types) if (!wantTypes.has(g.name)) problems.push(`${g.name}: in codec, not in the C headers`);
    expect(problems).toEqual([]);
  });

  it("every constant equals the C probe, and vice versa", () => {
    const got = layout(undefined, { arch }).constants;
    const problems: string[] = [];
    for (const [k, v] of Object.entries(want.constants)) {
      if (!(k in got)) problems.push(`${k}: missing in codec (C ${v})`);
      else if (got[k] !== v) problems.push(`${k}: C ${v}, codec ${String(got[k])}`);
    }
    for (const k of Object.keys(got)) if (!(k in want.constants)) problems.push(`${k}: in codec, not in the fixture`);
    expect(problems).toEqual([]);
  });
});
