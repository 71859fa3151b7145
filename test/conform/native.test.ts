// `--conform` end to end: Debian's real libxendevicemodel under the LD_PRELOAD shim conforms on both
// paths; raw-ioctl C clients that depart from it each get the difference named by field and offset.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConformReport, Conformance, conformObserver, type ConformReportJson } from "../../src/conform/index.js";
import type { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { createFakeHost } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { BUILD, CONFORMANCE, DOM, WORLD, buildNative, jsonLines, nativeMissing, run, shimEnv } from "../native/harness.js";

const CLIENT = join(BUILD, "conformclient");
const EINVAL = 22;

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/conform native SKIPPED: ${missing}. --conform is NOT tested against real C clients here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

let check: Conformance;
let tmp = "";

interface Served { report: ConformReportJson; warnings: string[]; stdout: string; stderr: string; hv: Hypervisor }

/** One server with the conformance observer; runs `bin args` under the shim against it. */
async function serveAndRun(bin: string, args: readonly string[], opts: { strict?: boolean; noDmOp?: boolean } = {}): Promise<Served> {
  const dir = mkdtempSync(join(tmp, "s-"));
  const path = join(dir, "sock");
  const report = new ConformReport("libxendevicemodel-4.17", opts.strict === true);
  const warnings: string[] = [];
  const { device, hv } = createFakeHost(WORLD);
  const server = new XendmServer({ device, observer: conformObserver({ check, report, warn: (l) => { warnings.push(l); } }) });
  await server.listen(path);
  try {
    const r = await run(bin, args, shimEnv(path, opts.noDmOp === true ? { XENDM_SHIM_NO_DMOP: "1" } : {}));
    expect(r.code, r.stderr).toBe(0);
    return { report: report.toJson(), warnings, stdout: r.stdout, stderr: r.stderr, hv };
  } finally {
    await server.close();
  }
}

async function client(c: string, strict = false): Promise<Served & { ret: number; errno: number }> {
  const s = await serveAndRun(CLIENT, [c, String(DOM)], { strict });
  const line = jsonLines(s.stdout)[0]!;
  return { ...s, ret: Number(line.ret), errno: Number(line.errno) };
}

suite("xendm serve --conform with real C clients", () => {
  beforeAll(async () => {
    buildNative();
    tmp = mkdtempSync(join(tmpdir(), "xendm-conform-"));
    check = await Conformance.create();
  });
  afterAll(() => {
    if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
  });

  for (const noDmOp of [false, true]) {
    it(`the real libxendevicemodel conforms 100% (${noDmOp ? "hypercall fallback" : "DM_OP ioctl"} path)`, async () => {
      const s = await serveAndRun(CONFORMANCE, ["all", String(DOM)], { noDmOp, strict: true });
      expect(s.warnings.filter((l) => !l.startsWith("note:"))).toEqual([]);
      expect(s.report.differing).toBe(0);
      expect(s.report.not_library).toBe(0);
      expect(s.report.conforming).toBe(s.report.calls);
      // every function that reaches Xen was seen (restrict, close and the library's own refusals do not)
      const fns = new Set(s.report.operations.map((o) => o.fn));
      for (const fn of ["create_ioreq_server", "get_ioreq_server_info", "map_io_range_to_ioreq_server", "map_pcidev_to_ioreq_server",
        "unmap_pcidev_from_ioreq_server", "track_dirty_vram", "modified_memory_bulk", "set_mem_type", "inject_event", "nr_vcpus",
        "map_mem_type_to_ioreq_server", "shutdown", "relocate_memory", "pin_memory_cacheattr", "set_irq_level"]) {
        expect(fns.has(`xendevicemodel_${fn}`), fn).toBe(true);
      }
      expect(s.report.calls).toBeGreaterThan(50);
      if (!noDmOp) expect(fns.has("xendevicemodel_open")).toBe(true);
    }, 60_000);
  }

  it("a hand-built set_mem_type identical to the library's conforms on both paths", async () => {
    for (const c of ["good", "good-hcall"]) {
      const s = await client(c);
      expect(s.report).toMatchObject({ calls: 1, conforming: 1, differing: 0 });
      expect(s.ret).toBe(0);
    }
  });

  it("a 24-byte buffer 0: privcmd_dm_op_buf[0].size, expected 32", async () => {
    const s = await client("short-buf0");
    expect(s.warnings).toEqual([
      "warning: conn 1 ioctl xendevicemodel_set_mem_type: privcmd_dm_op_buf[0].size at byte offset 8: expected 32, sent 24 (sizeof(struct xen_dm_op): the library always sends the whole struct)",
    ]);
    expect(s.ret).toBe(0); // Xen reads only 8 + sizeof(struct xen_dm_op_set_mem_type) bytes: it accepts this
  });

  it("a 24-byte buffer 0 on the hypercall path: xen_dm_op_buf[0].size", async () => {
    const s = await client("short-buf0-hcall");
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toContain("xendevicemodel_set_mem_type: xen_dm_op_buf[0].size at byte offset 8: expected 32, sent 24");
  });

  it("a non-zero pad: xen_dm_op.u.set_mem_type.pad at byte offset 14", async () => {
    const s = await client("bad-pad");
    expect(s.warnings).toEqual(["warning: conn 1 ioctl xendevicemodel_set_mem_type: buffer 0 xen_dm_op.u.set_mem_type.pad at byte offset 14: expected 0, sent 0x1234"]);
    expect(s.errno).toBe(EINVAL); // Xen refuses it too
  });

  it("modified_memory with its buffers the wrong way round", async () => {
    const s = await client("swapped");
    expect(s.report.operations[0]).toMatchObject({ fn: "xendevicemodel_modified_memory_bulk", differing: 1 });
    expect(s.report.operations[0]!.first_differences[0]).toMatchObject({ kind: "buffer-order", field: "privcmd_dm_op_buf[0]" });
    expect(s.warnings[0]).toContain("buffer 1 = struct xen_dm_op (XEN_DMOP_modified_memory)");
  });

  it("a short dirty bitmap for track_dirty_vram: privcmd_dm_op_buf[1].size, expected (nr + 7) / 8", async () => {
    const s = await client("short-bitmap");
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toContain("xendevicemodel_track_dirty_vram: privcmd_dm_op_buf[1].size at byte offset 24: expected 13, sent 12");
    expect(s.errno).toBe(EINVAL); // dm.c:track_dirty_vram refuses a bitmap shorter than (nr + 7) / 8 too
  });

  it("an i386-layout privcmd_dm_op_buf array on an x86_64 connection", async () => {
    const s = await client("i386-bufs");
    expect(s.report.operations[0]!.first_differences[0]).toMatchObject({ kind: "descriptor-layout", buffer: 0, field: "privcmd_dm_op_buf[0].size", offset: 8 });
    expect(s.warnings[0]).toContain("an array of 8-byte {uptr, size} pairs, the i386 layout");
    expect(s.warnings[0]).toContain(", 13)");
  });

  it("flags the library refuses to send are a call it never makes, not a difference", async () => {
    const s = await client("read-flag", true);
    expect(s.report).toMatchObject({ calls: 1, differing: 0, not_library: 1 });
    expect(s.report.operations[0]!.first_reason).toContain("accepts only 0 and XEN_DMOP_IOREQ_MEM_ACCESS_WRITE");
    expect(s.errno).not.toBe(0); // the fake answered as Xen does (no claim: -EINVAL or similar), not the conformance check
  });

  it("--conform-strict: a differing call gets -1/EINVAL and never runs", async () => {
    const loose = await client("short-buf0");
    const strict = await client("short-buf0", true);
    expect(loose.ret).toBe(0); // Xen itself accepts a 24-byte set_mem_type buffer 0
    expect(strict.ret).toBe(-1);
    expect(strict.errno).toBe(EINVAL);
    expect(strict.report).toMatchObject({ strict: true, differing: 1 });
    // set_mem_type(HVMMEM_ram_ro) on gfn 0x100: done by the loose run, not by the strict one
    expect(loose.hv.domain(DOM)!.p2m.memTypeOf(0x100)).toBe(1);
    expect(strict.hv.domain(DOM)!.p2m.memTypeOf(0x100)).toBe(0);
    expect(strict.warnings[0]).toMatch(/^FAIL \(EINVAL\): /);
  });
});
