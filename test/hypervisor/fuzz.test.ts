import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeHv } from "./helpers.js";

describe("dm_op never throws and refuses without touching buffer 0", () => {
  for (const xen of ["4.17", "master", "4.9"] as const) {
    for (const arch of ["x86", "arm"] as const) {
      it(`${xen} ${arch}`, () => {
        const hv = makeHv({
          xen, arch,
          domains: [{ domid: 1, vcpus: 2 }, { domid: 2, type: "pv", target: 1 }, { domid: 3, type: "pv" }],
        });
        const arb = fc.record({
          op: fc.oneof(fc.integer({ min: 0, max: 22 }), fc.constant(0xffffffff)),
          pad: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })),
          body: fc.uint8Array({ minLength: 24, maxLength: 24 }),
          len: fc.integer({ min: 0, max: 40 }),
          size: fc.oneof(fc.constant(undefined), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
          caller: fc.constantFrom(0, 1, 2, 3, 9),
          domid: fc.constantFrom(0, 1, 2, 3, 99, 0x7ff0),
          nr: fc.integer({ min: 0, max: 3 }),
          wfault: fc.boolean(),
        });
        fc.assert(
          fc.property(arb, (a) => {
            const bytes = new Uint8Array(a.len);
            const full = new Uint8Array(32);
            const v = new DataView(full.buffer);
            v.setUint32(0, a.op, true);
            v.setUint32(4, a.pad, true);
            full.set(a.body, 8);
            bytes.set(full.subarray(0, a.len));
            const before = Uint8Array.from(bytes);
            const b0 = { bytes, ...(a.size !== undefined ? { size: a.size } : {}), fault: { write: a.wfault } };
            const b1 = { bytes: new Uint8Array(64) };
            const bufs = [b0, b1, b1];
            const rc = hv.dm_op(a.caller, a.domid, bufs, a.nr);
            expect(Number.isInteger(rc)).toBe(true);
            if (rc < 0) {
              const e = hv.explain();
              expect(e).not.toBeNull();
              expect(e!.rc).toBe(rc);
              expect(e!.errno).toMatch(/^-E[A-Z0-9]+$/);
              expect(e!.mirrors).toMatch(/\.[ch]:|table/);
              expect(Array.from(bytes)).toEqual(Array.from(before));
            } else {
              expect(rc).toBe(0);
            }
          }),
          { numRuns: 400 },
        );
      });
    }
  }
});
