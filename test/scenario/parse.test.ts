import { describe, expect, it } from "vitest";
import { parseScenario, ScenarioError } from "../../src/scenario/index.js";

function err(json: unknown): ScenarioError {
  try {
    parseScenario(json);
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error("parsed without error");
}

const op = { op: "XEN_DMOP_nr_vcpus" };
const w = (steps: unknown[]): unknown => ({ format: 1, domains: [{ domid: 1 }], steps });

describe("parseScenario: the world", () => {
  it("accepts the documented world and fills step defaults", () => {
    const sc = parseScenario({
      format: 1, xen: "4.17", arch: "x86", abi: "x86_64", preempt: { every: 2 }, name: "n",
      domains: [{ domid: 0, control: true }, { domid: 1, type: "hvm", hap: true, vcpus: 2, ram: [["0x0", "0x9f"]] }],
      steps: [{ dmop: { domid: 1, op } }],
    });
    expect(sc.name).toBe("n");
    expect(sc.steps[0]).toMatchObject({ kind: "dmop", caller: 0, domid: 1, index: 0 });
  });
  it("names unknown top-level and domain keys", () => {
    expect(err({ format: 1, stpes: [] }).path).toBe("stpes");
    expect(err({ format: 1, domains: [{ domid: 1, happ: true }] }).path).toBe("domains[0].happ");
  });
  it("refuses other formats, personas and preempt shapes", () => {
    expect(err({ format: 2 }).path).toBe("format");
    expect(err({ xen: "4.1" }).path).toBe("xen");
    expect(err({ preempt: { every: 0 } }).path).toBe("preempt.every");
    expect(err({ preempt: { sometimes: 1 } }).path).toBe("preempt.sometimes");
    expect(err({ preempt: "often" }).message).toMatch(/preempt/);
    expect(err({ abi: "x86" }).path).toBe("abi");
  });
});

describe("parseScenario: steps", () => {
  it("names an unknown key with the step index", () => {
    expect(err(w([{ dmop: { domid: 1, op } }, { dmop: { domid: 1, op, size: 3 } }])).path).toBe("steps[1].dmop.size");
    expect(err(w([{ dmop: { domid: 1, op }, expct: {} }])).path).toBe("steps[0].expct");
    expect(err(w([{ dmop: { domid: 1, op }, expect: { rc: 0, out2: {} } }])).path).toBe("steps[0].expect.out2");
  });
  it("needs exactly one action", () => {
    expect(err(w([{ note: "x" }])).message).toMatch(/no action/);
    expect(err(w([{ dmop: { domid: 1, op }, query: { claim: { domid: 1 } } }])).message).toMatch(/more than one action/);
  });
  it("parses integers as numbers, decimal or 0x strings and symbols; refuses the rest", () => {
    const sc = parseScenario(w([{ dmop: { domid: "0x1", caller: "0", op } }, { dmop: { domid: "DOMID_SELF", op } }]));
    expect(sc.steps[0]).toMatchObject({ domid: 1, caller: 0 });
    expect(sc.steps[1]).toMatchObject({ domid: 0x7ff0 });
    expect(err(w([{ dmop: { domid: "0xZZ", op } }])).path).toBe("steps[0].dmop.domid");
    expect(err(w([{ dmop: { domid: 1.5, op } }])).path).toBe("steps[0].dmop.domid");
    expect(err(w([{ dmop: { domid: 0x10000, op } }])).message).toMatch(/outside 0\.\.65535/);
    expect(err(w([{ dmop: { op } }])).path).toBe("steps[0].dmop.domid");
  });
  it("parses rc as a number or an errno name, with or without the sign", () => {
    const sc = parseScenario(w([
      { dmop: { domid: 1, op }, expect: { rc: "-EINVAL" } },
      { dmop: { domid: 1, op }, expect: { rc: "EOPNOTSUPP" } },
      { dmop: { domid: 1, op }, expect: { rc: -22 } },
    ]));
    expect(sc.steps.map((s) => (s.kind === "dmop" ? s.expect?.rc : null))).toEqual([-22, -95, -22]);
    expect(err(w([{ dmop: { domid: 1, op }, expect: { rc: "EWHAT" } }])).path).toBe("steps[0].expect.rc");
  });
  it("checks hex buffers", () => {
    expect(parseScenario(w([{ dmop: { domid: 1, bufs: ["14 00 00 00", "0x00ff"] } }])).steps[0]).toMatchObject({
      bufs: [new Uint8Array([0x14, 0, 0, 0]), new Uint8Array([0, 255])],
    });
    expect(err(w([{ dmop: { domid: 1, bufs: ["abc"] } }])).path).toBe("steps[0].dmop.bufs[0]");
    expect(err(w([{ dmop: { domid: 1 } }])).message).toMatch(/needs "op"/);
  });
  it("checks faults", () => {
    expect(err(w([{ dmop: { domid: 1, op, faults: { copy_in: true } } }])).path).toBe("steps[0].dmop.faults.copy_in");
    expect(err(w([{ dmop: { domid: 1, op, faults: { copy_out: 1 } } }])).path).toBe("steps[0].dmop.faults.copy_out");
  });
  it("checks privcmd steps", () => {
    expect(err(w([{ privcmd: { fd: "a", ioctl: "mmap", dom: 1 } }])).path).toBe("steps[0].privcmd.ioctl");
    expect(err(w([{ privcmd: { fd: "a", ioctl: "restrict", dom: 1, op } }])).path).toBe("steps[0].privcmd.op");
    expect(err(w([{ privcmd: { fd: "a", ioctl: "dm_op", dom: 1, op }, expect: { rc: -22 } }])).message).toMatch(/-1 with "errno"/);
    expect(err(w([{ privcmd: { fd: "a", ioctl: "dm_op", dom: 1, op }, expect: { errno: "ENOPE" } }])).path).toBe("steps[0].expect.errno");
    expect(err(w([{ privcmd: { fd: "a", ioctl: "hypercall", dom: 1, op, num: 2 } }])).path).toBe("steps[0].privcmd.num");
    const s = parseScenario(w([{ privcmd: { fd: "a", ioctl: "dm_op", dom: 1, op, num: 17 }, expect: { rc: -1, errno: "E2BIG" } }])).steps[0];
    expect(s).toMatchObject({ kind: "privcmd", num: 17, expect: { rc: -1, errno: 7 } });
  });
  it("checks queries", () => {
    expect(err(w([{ query: { p2mm: { domid: 1 } } }])).path).toBe("steps[0].query.p2mm");
    expect(err(w([{ query: { p2m: { domid: 1 } } }])).path).toBe("steps[0].query.p2m.first_gfn");
    expect(err(w([{ query: { p2m: { domid: 1, first_gfn: 0, nr: 70000 } } }])).path).toBe("steps[0].query.p2m.nr");
    expect(err(w([{ query: { server: { domid: 1 } } }])).path).toBe("steps[0].query.server.id");
    expect(err(w([{ query: { claim: { domid: 1, id: 0 } } }])).path).toBe("steps[0].query.claim.id");
    expect(err(w([{ query: { claim: {}, server: {} } }])).message).toMatch(/exactly one/);
  });
  it("checks guest and emulator steps", () => {
    const g = parseScenario(w([{ guest: { domid: 1, pio: { port: "0x3f8", size: 1, dir: "write", data: "0x41" } } }])).steps[0];
    expect(g).toMatchObject({ kind: "guest", access: "pio", addr: 0x3f8n, data: 0x41n, vcpu: 0 });
    expect(err(w([{ guest: { domid: 1, pio: { addr: 1, size: 1, dir: "write" } } }])).path).toBe("steps[0].guest.pio.addr");
    expect(err(w([{ guest: { domid: 1, mmio: { addr: 1, size: 1, dir: "in" } } }])).path).toBe("steps[0].guest.mmio.dir");
    expect(err(w([{ guest: { domid: 1, mmio: { addr: 1, dir: "read" } }, expect: { ioreqq: {} } }])).path).toBe("steps[0].expect.ioreqq");
    expect(err(w([{ emulator: { domid: 1, respond: { value: 1 } } }])).path).toBe("steps[0].emulator.respond.value");
  });
});
