// Every shipped scenario runs against the fake and every expectation holds.
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadScenarioFile, parseScenario, runScenario } from "../../src/scenario/index.js";

const DIR = fileURLToPath(new URL("../../fixtures/scenarios/", import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();

/**
 * Steps that fail because the fake does not yet behave as Xen does (file → step indexes). They are allowed
 * to fail; once the fake is fixed the run prints a note so the entry can go.
 */
const KNOWN_FAKE_BUGS: Readonly<Record<string, readonly number[]>> = {};

describe("shipped scenarios", () => {
  it("exist", () => {
    expect(FILES.length).toBeGreaterThan(15);
  });
  for (const f of FILES) {
    it(f, () => {
      const results = runScenario(loadScenarioFile(DIR + f));
      const known = KNOWN_FAKE_BUGS[f] ?? [];
      const failed = results.filter((r) => !r.pass).map((r) => ({ index: r.index, diff: r.diff, note: r.note }));
      expect(failed.filter((x) => !known.includes(x.index))).toEqual([]);
      const fixed = known.filter((i) => !failed.some((x) => x.index === i));
      if (fixed.length > 0) console.warn(`${f}: steps ${fixed.join(", ")} pass now: remove them from KNOWN_FAKE_BUGS`);
    });
  }
});

/** ops 1..20 by name, as C names them */
const OPS = [
  "create_ioreq_server", "get_ioreq_server_info", "map_io_range_to_ioreq_server", "unmap_io_range_from_ioreq_server",
  "set_ioreq_server_state", "destroy_ioreq_server", "track_dirty_vram", "set_pci_intx_level", "set_isa_irq_level",
  "set_pci_link_route", "modified_memory", "set_mem_type", "inject_event", "inject_msi", "map_mem_type_to_ioreq_server",
  "remote_shutdown", "relocate_memory", "pin_memory_cacheattr", "set_irq_level", "nr_vcpus",
];

describe("coverage of the shipped scenarios", () => {
  it("has, for every op, a step expecting success and one expecting an error", () => {
    const seen = new Map<string, { ok: number; err: number }>();
    for (const f of FILES) {
      for (const s of parseScenario(loadScenarioFile(DIR + f)).steps) {
        if (s.kind !== "dmop" || s.op === undefined || s.expect?.rc === undefined) continue;
        const o = s.op.op;
        const name = typeof o === "string" ? o.replace(/^XEN_DMOP_/, "") : typeof o === "number" ? (OPS[o - 1] ?? "") : "";
        const e = seen.get(name) ?? { ok: 0, err: 0 };
        if (s.expect.rc >= 0) e.ok++;
        else e.err++;
        seen.set(name, e);
      }
    }
    const missing = OPS.filter((o) => (seen.get(o)?.ok ?? 0) === 0 || (seen.get(o)?.err ?? 0) === 0);
    expect(missing).toEqual([]);
  });
});
