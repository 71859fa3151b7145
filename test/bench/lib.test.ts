// The benchmark helpers: spreads, where results go, and the dead-code guard.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";

describe("bench/lib", () => {
  it("reports min / median / p90 and adds them beside every samples array", async () => {
    const out = mkdtempSync(join(tmpdir(), "xendm-bench-"));
    vi.stubEnv("XENDM_BENCH_OUT", out);
    vi.resetModules();
    const lib = await import("../../bench/lib.js");
    expect(lib.RESULTS_DIR).toBe(out);
    expect(lib.spread([5, 1, 4, 2, 3, 10, 9, 8, 7, 6])).toEqual({ min: 1, median: 5.5, p90: 9, runs: 10 });
    expect(lib.spreadText([3, 1, 2], (x) => String(x))).toBe("1 / 2 / 3");
    lib.consume(41);
    lib.consume(1n);
    lib.writeResult("t", { a: { samples: [3, 1, 2] }, big: 2n ** 64n });
    const r = JSON.parse(readFileSync(join(out, "t.json"), "utf8")) as { a: { spread: unknown }; big: string; blackhole: number };
    expect(r.a.spread).toEqual({ min: 1, median: 2, p90: 3 });
    expect(r.big).toBe("18446744073709551616");
    expect(r.blackhole).toBe(42);
    vi.unstubAllEnvs();
  });
  it("writes to bench/out by default, never the committed bench/results", async () => {
    vi.stubEnv("XENDM_BENCH_OUT", undefined);
    vi.resetModules();
    const lib = await import("../../bench/lib.js");
    expect(lib.RESULTS_DIR.endsWith(join("bench", "out"))).toBe(true);
    expect(lib.COMMITTED_DIR.endsWith(join("bench", "results"))).toBe(true);
    vi.unstubAllEnvs();
  });
});
