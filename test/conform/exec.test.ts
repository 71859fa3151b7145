// xendm exec --conform: the check around one program run, the report on stderr after it exits.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { ConformReportJson } from "../../src/conform/index.js";
import { BUILD, CONFORMANCE, ROOT, buildNative, nativeMissing } from "../native/harness.js";

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/conform exec SKIPPED: ${missing}. xendm exec --conform is NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

function xendm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xendm.js"), ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonReport(stderr: string): ConformReportJson {
  const line = stderr.split("\n").find((l) => l.startsWith("{\"conform\""));
  if (line === undefined) throw new Error(`no JSON report in: ${stderr}`);
  return JSON.parse(line) as ConformReportJson;
}

suite("xendm exec --conform", () => {
  beforeAll(() => { buildNative(); });

  it("the real library under exec conforms; the program's output stays on stdout", () => {
    const r = xendm(["exec", "--conform-strict", "--json", "--", CONFORMANCE, "all", "1"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"fn":"xendevicemodel_nr_vcpus"/);
    const j = jsonReport(r.stderr);
    expect(j.differing).toBe(0);
    expect(j.conforming).toBe(j.calls);
    expect(j.calls).toBeGreaterThan(50);
  });

  it("--conform-strict: a program that exits 0 after a differing call exits 1", () => {
    const r = xendm(["exec", "--conform-strict", "--", join(BUILD, "conformclient"), "bad-pad", "1"]);
    expect(r.stdout).toBe('{"case":"bad-pad","ret":-1,"errno":22}\n');
    expect(r.stderr).toContain("xendm exec: conform FAIL (EINVAL): conn 1 ioctl xendevicemodel_set_mem_type: buffer 0 xen_dm_op.u.set_mem_type.pad at byte offset 14: expected 0, sent 0x1234");
    expect(r.stderr).toContain("conformance to libxendevicemodel-4.17 (strict): 1 calls, 0 conforming, 1 differing, 0 not library calls");
    expect(r.status).toBe(1);
  });

  it("without strict the differences are warnings and the status is the program's", () => {
    const r = xendm(["exec", "--conform", "libxendevicemodel-4.17", "--", join(BUILD, "conformclient"), "short-bitmap", "1"]);
    expect(r.stderr).toContain("conform warning: conn 1 ioctl xendevicemodel_track_dirty_vram: privcmd_dm_op_buf[1].size at byte offset 24: expected 13, sent 12");
    expect(r.status).toBe(0);
  });
});
