// The ioctl paths that let a long hypercall go on later (dmOpSliced, hypercallSliced): the driver's
// checks come first, a call that continues comes back as a PendingIoctl, and its result is the
// synchronous ioctl's.
import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { PendingIoctl, PrivcmdDevice, type DmOpBuf } from "../../src/privcmd/index.js";

function relocation(): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 17, true); // XEN_DMOP_relocate_memory
  dv.setUint32(8, 64, true);
  dv.setBigUint64(16, 0x100n, true);
  dv.setBigUint64(24, 0x20000n, true);
  return b;
}

const world = { preempt: "always" as const, domains: [{ domid: 1 }] };

describe("PrivcmdHandle.dmOpSliced / hypercallSliced", () => {
  it("a continuing dm_op comes back pending; run on, it ends as dm_op() does", () => {
    const syncBuf = relocation();
    expect(new PrivcmdDevice(new Hypervisor(world)).open(0).dm_op(1, 1, [{ bytes: syncBuf }])).toEqual({ ret: 0 });
    const b = relocation();
    const r = new PrivcmdDevice(new Hypervisor(world)).open(0).dmOpSliced(1, 1, [{ bytes: b }], 0);
    expect(r).toBeInstanceOf(PendingIoctl);
    const p = r as PendingIoctl;
    let out = p.run(0);
    let slices = 1;
    while (out === undefined) {
      out = p.run(0);
      slices++;
    }
    expect(out).toEqual({ ret: 0 });
    expect(slices).toBeGreaterThan(10);
    expect(Buffer.from(b).toString("hex")).toBe(Buffer.from(syncBuf).toString("hex"));
  });

  it("the driver's own checks answer at once", () => {
    const h = new PrivcmdDevice(new Hypervisor(world)).open(0);
    expect(h.restrict(2)).toEqual({ ret: 0 });
    expect(h.dmOpSliced(1, 1, [{ bytes: relocation() }], 0)).toEqual({ ret: -1, errno: 1 }); // EPERM: restricted to 2
    expect(h.hypercallSliced(41, [1n, 1n, 0n], [{ bytes: relocation() }], 0)).toEqual({ ret: -1, errno: 1 });
    const u = new PrivcmdDevice(new Hypervisor(world)).open(0);
    expect(u.dmOpSliced(1, 0, [], 0)).toEqual({ ret: 0 }); // num == 0
    expect(u.dmOpSliced(1, 17, [], 0)).toEqual({ ret: -1, errno: 7 }); // E2BIG
  });

  it("a raw dm_op hypercall continues the same way; abandon() stops it", () => {
    const hv = new Hypervisor(world);
    const h = new PrivcmdDevice(hv).open(0);
    const r = h.hypercallSliced(41, [1n, 1n, 0n], [{ bytes: relocation() }], 0);
    expect(r).toBeInstanceOf(PendingIoctl);
    const before = hv.preemptHook.count;
    (r as PendingIoctl).abandon();
    expect(() => (r as PendingIoctl).run(0)).toThrow(/abandoned/);
    expect(hv.preemptHook.count).toBe(before);
  });

  it("a device over a bare dm_op function has no slices: the call runs to its end", () => {
    const calls: DmOpBuf[][] = [];
    const h = new PrivcmdDevice((_c, _d, bufs) => (calls.push(bufs), 0)).open(0);
    expect(h.dmOpSliced(1, 1, [{ bytes: relocation() }], 0)).toEqual({ ret: 0 });
    expect(calls).toHaveLength(1);
  });
});
