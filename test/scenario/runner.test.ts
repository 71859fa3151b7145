import { describe, expect, it } from "vitest";
import type { DmOpBuf } from "../../src/privcmd/index.js";
import { runScenario, ScenarioError, type QueryResult, type ScenarioHost } from "../../src/scenario/index.js";

interface Call {
  caller: number;
  domid: number;
  bufs: { hex: string; size: number | undefined; fault: DmOpBuf["fault"] }[];
  nr: number;
}

/** A host whose dm_op answers `rcs` in turn, writes `write0` into buffer 0 at offset 8 when given, and records calls. */
function stub(rcs: number[], opts: { write0?: number[]; query?: QueryResult } = {}): { calls: Call[]; create: () => ScenarioHost } {
  const calls: Call[] = [];
  let n = 0;
  const host: ScenarioHost = {
    dm_op(caller, domid, bufs, nr = bufs.length) {
      calls.push({ caller, domid, nr, bufs: bufs.map((b) => ({ hex: Buffer.from(b.bytes).toString("hex"), size: b.size, fault: b.fault })) });
      if (opts.write0 && bufs[0] && bufs[0].fault?.write !== true && bufs[0].bytes.length >= 8 + opts.write0.length) bufs[0].bytes.set(opts.write0, 8);
      return rcs[n++] ?? 0;
    },
    query: (kind, args) => ({ kind, domid: args.domid, ...(opts.query ?? {}) }),
  };
  return { calls, create: () => host };
}

const world = { format: 1, domains: [{ domid: 1 }] };

describe("runScenario with a stub host", () => {
  it("encodes op into buffer 0 and compares rc", () => {
    const s = stub([0, -22]);
    const res = runScenario(
      { ...world, steps: [
        { dmop: { domid: 1, caller: 3, op: { op: "XEN_DMOP_nr_vcpus" } }, expect: { rc: 0 } },
        { dmop: { domid: 1, op: { op: "set_mem_type" } }, expect: { rc: 0 } },
      ] },
      { createHost: s.create },
    );
    expect(s.calls[0]).toMatchObject({ caller: 3, domid: 1, nr: 1 });
    expect(s.calls[0]!.bufs[0]!.hex).toBe("14000000" + "00".repeat(28));
    expect(s.calls[1]!.bufs[0]!.hex.slice(0, 8)).toBe("0c000000");
    expect(res[0]).toMatchObject({ pass: true, summary: "rc=0" });
    expect(res[1]!.pass).toBe(false);
    expect(res[1]!.diff).toEqual(["rc: expected 0, got -22 (-EINVAL)"]);
    expect(res[1]!.summary).toBe("rc=-22 (-EINVAL)");
  });
  it("decodes buffer 0 for out and compares only the named keys", () => {
    const s = stub([0, 0], { write0: [5, 0, 0, 0] });
    const res = runScenario(
      { ...world, steps: [
        { dmop: { domid: 1, op: { op: "nr_vcpus" } }, expect: { out: { u: { nr_vcpus: { vcpus: 5 } } } } },
        { dmop: { domid: 1, op: { op: "nr_vcpus" } }, expect: { out: { op: "XEN_DMOP_nr_vcpus", u: { nr_vcpus: { vcpus: "0x6" } } } } },
      ] },
      { createHost: s.create },
    );
    expect(res[0]!.pass).toBe(true);
    expect(res[1]!.diff).toEqual(["out.u.nr_vcpus.vcpus: expected \"0x6\", got 5"]);
  });
  it("checks unchanged and exact bufs", () => {
    const s = stub([0, 0], { write0: [1] });
    const res = runScenario(
      { ...world, steps: [
        { dmop: { domid: 1, bufs: ["14000000 00000000", "aa"] }, expect: { unchanged: true, bufs: ["1400000000000000", "aa"] } },
        { dmop: { domid: 1, bufs: ["1400000000000000 00"] }, expect: { unchanged: true } },
      ] },
      { createHost: s.create },
    );
    expect(res[0]!.pass).toBe(true);
    expect(res[1]!.pass).toBe(false);
    expect(res[1]!.diff![0]).toMatch(/^unchanged: expected true, buffer 0 is now 140000000000000001/);
  });
  it("applies size0, sizes, nr_bufs and faults", () => {
    const s = stub([0, 0, 0]);
    runScenario(
      { ...world, steps: [
        { dmop: { domid: 1, op: { op: "nr_vcpus" }, size0: 4, faults: { copy_out: true } } },
        { dmop: { domid: 1, op: { op: "nr_vcpus" }, size0: 40, sizes: [null, 9], bufs: ["00"], faults: { unreadable: [1] } } },
        { dmop: { domid: 1, op: { op: "nr_vcpus" }, nr_bufs: 0 } },
      ] },
      { createHost: s.create },
    );
    expect(s.calls[0]!.bufs[0]).toEqual({ hex: "14000000", size: undefined, fault: { write: true } });
    expect(s.calls[1]!.bufs[0]!.hex).toBe("14" + "00".repeat(39));
    expect(s.calls[1]!.bufs[1]).toEqual({ hex: "00", size: 9, fault: { read: true } });
    expect(s.calls[2]!.bufs).toHaveLength(0);
    expect(s.calls[2]!.nr).toBe(0);
  });
  it("compares query answers as a subset, integers by value and names without their prefix", () => {
    const s = stub([], { query: { types: ["ioreq_server", "ram_rw"], value: 3, big: 0x1234n } });
    const res = runScenario(
      { ...world, steps: [
        { query: { p2m: { domid: 1, first_gfn: 0, nr: 2 } }, expect: { types: ["HVMMEM_ioreq_server", "ram_rw"], value: "0x3", big: "4660" } },
        { query: { entry_count: { domid: 1 } }, expect: { value: 4 } },
        { query: { entry_count: { domid: 1 } }, expect: { nothere: 4 } },
      ] },
      { createHost: s.create },
    );
    expect(res[0]!.pass).toBe(true);
    expect(res[1]!.diff).toEqual(["value: expected 4, got 3"]);
    expect(res[2]!.diff).toEqual(["nothere: missing (expected 4)"]);
  });
  it("runs privcmd steps through the kernel checks, one handle per fd", () => {
    const s = stub([0, -3]);
    const res = runScenario(
      { ...world, steps: [
        { privcmd: { fd: "a", ioctl: "restrict", dom: 1 }, expect: { rc: 0 } },
        { privcmd: { fd: "a", ioctl: "dm_op", dom: 2, op: { op: "nr_vcpus" } }, expect: { rc: -1, errno: "EPERM" } },
        { privcmd: { fd: "b", ioctl: "dm_op", dom: 2, op: { op: "nr_vcpus" } }, expect: { rc: 0 } },
        { privcmd: { fd: "a", ioctl: "dm_op", dom: 1, op: { op: "nr_vcpus" }, num: 0 }, expect: { rc: 0 } },
        { privcmd: { fd: "b", ioctl: "dm_op", dom: 1, op: { op: "nr_vcpus" }, sizes: [4097] }, expect: { rc: -1, errno: "E2BIG" } },
        { privcmd: { fd: "b", ioctl: "dm_op", dom: 1, op: { op: "nr_vcpus" } }, expect: { rc: -1, errno: "EPERM" } },
        { privcmd: { fd: "a", ioctl: "hypercall", dom: 1, op: { op: "nr_vcpus" } }, expect: { rc: -1, errno: "EPERM" } },
      ] },
      { createHost: s.create },
    );
    expect(res.map((r) => r.pass)).toEqual([true, true, true, true, true, false, true]);
    expect(res[5]!.diff).toEqual(["errno: expected EPERM, got ESRCH"]);
    expect(s.calls.map((c) => c.domid)).toEqual([2, 1]);
  });
  it("passes a hypercall's buffers through the caller's xen_dm_op_buf array (i386)", () => {
    const s = stub([0]);
    runScenario(
      { ...world, abi: "i386", steps: [
        { privcmd: { fd: "x", ioctl: "hypercall", dom: 1, op: { op: "nr_vcpus" }, bufs: ["0102"] }, expect: { rc: 0 } },
      ] },
      { createHost: s.create },
    );
    expect(s.calls[0]!.bufs.map((b) => b.hex)).toEqual(["14" + "00".repeat(31), "0102"]);
    expect(s.calls[0]!.bufs.map((b) => b.size)).toEqual([32, 2]);
  });
  it("reports a codec error in op as an invalid file naming the step", () => {
    expect(() => runScenario({ ...world, steps: [{ dmop: { domid: 1, op: { op: "nr_vcpus", u: { nr_vcpus: { vcpuz: 1 } } } } }] }, { createHost: stub([]).create }))
      .toThrow(ScenarioError);
    try {
      runScenario({ ...world, steps: [{ query: { claim: { domid: 1 } } }, { dmop: { domid: 1, op: { op: "nope" } } }] }, { createHost: stub([]).create });
    } catch (e) {
      expect((e as ScenarioError).path).toMatch(/^steps\[1\]\.dmop\.op/);
    }
  });
  it("refuses an fd reused by another caller", () => {
    expect(() => runScenario({ ...world, steps: [
      { privcmd: { fd: "a", caller: 0, ioctl: "restrict", dom: 1 } },
      { privcmd: { fd: "a", caller: 2, ioctl: "restrict", dom: 1 } },
    ] }, { createHost: stub([]).create })).toThrow(/steps\[1\]\.privcmd\.caller/);
  });
  it("fails guest steps on a host without emulation, without stopping the run", () => {
    const res = runScenario({ ...world, steps: [
      { guest: { domid: 1, pio: { port: 1, size: 1, dir: "read" } }, expect: { none: true } },
      { query: { claim: { domid: 1 } } },
    ] }, { createHost: stub([]).create });
    expect(res[0]!.pass).toBe(false);
    expect(res[0]!.summary).toMatch(/no guest emulation/);
    expect(res[1]!.pass).toBe(true);
  });
  it("compares guest expectations through the host, hex without spaces or case", () => {
    const base = stub([]).create();
    const host: ScenarioHost = { ...base, guest: (step) => ({ status: "pending", pending: true, ioreq: { hex: "aabbcc", fields: { addr: step.addr } } }) };
    const res = runScenario({ ...world, steps: [
      { guest: { domid: 1, mmio: { addr: "0x1000", size: 4, dir: "read" } }, expect: { pending: true, ioreq: { hex: "AA BB_CC", fields: { addr: 4096 } } } },
      { guest: { domid: 1, mmio: { addr: "0x1000", size: 4, dir: "read" } }, expect: { ioreq: { hex: "aabbcd" } } },
    ] }, { createHost: () => host });
    expect(res[0]!.pass).toBe(true);
    expect(res[1]!.diff).toEqual(['ioreq.hex: expected "aabbcd", got "aabbcc"']);
  });
});
