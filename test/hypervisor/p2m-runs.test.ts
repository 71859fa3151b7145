// The leafed run store against plain arrays, with enough runs to span many leaves.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RunStore } from "../../src/hypervisor/p2m-runs.js";
import { P2m } from "../../src/hypervisor/p2m.js";
import { p2m_ioreq_server, p2m_ram_rw } from "../../src/hypervisor/p2m-types.js";

describe("RunStore", () => {
  it("splices like plain arrays across leaf boundaries", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3000 }), fc.nat({ max: 5000 })), { minLength: 1, maxLength: 40 }),
        (ops) => {
          const rs = new RunStore(0, 7, 1);
          const s = [0], v = [7], t = [1];
          let ep = 1;
          for (const [pos, del0, cnt] of ops) {
            ep++;
            const at = pos % (s.length + 1);
            const del = Math.min(del0, s.length - at);
            // keep at least one run
            const n = Math.max(cnt, del === s.length ? 1 : 0);
            const base = at > 0 ? s[at - 1]! + 1 : 0;
            const ns = Array.from({ length: n }, (_, k) => base + k);
            const nv = ns.map((x) => x % 13);
            // keep starts strictly increasing: shift what follows
            const shift = (at + del < s.length ? base + n - s[at + del]! : 0);
            rs.splice(at, del, ns, nv, ep);
            s.splice(at, del, ...ns);
            v.splice(at, del, ...nv);
            t.splice(at, del, ...ns.map(() => ep));
            if (shift > 0) {
              // rebuild both with shifted tails so starts stay sorted
              for (let k = at + n; k < s.length; k++) s[k] = s[k]! + shift;
              const tail = s.slice(at + n);
              rs.splice(at + n, tail.length, tail, v.slice(at + n), ep);
              for (let k = at + n; k < s.length; k++) t[k] = ep;
            }
            expect(rs.length).toBe(s.length);
          }
          for (let i = 0; i < s.length; i++) {
            if (rs.start(i) !== s[i] || rs.val(i) !== v[i] || rs.stamp(i) !== t[i]) expect([i, rs.start(i), rs.val(i), rs.stamp(i)]).toEqual([i, s[i], v[i], t[i]]);
          }
          for (let q = 0; q < 50; q++) {
            const g = Math.floor(Math.random() * (s[s.length - 1]! + 10));
            let want = 0;
            for (let i = 0; i < s.length; i++) if (s[i]! <= g) want = i;
            expect(rs.find(g)).toBe(want);
          }
        },
      ),
      { numRuns: process.env.CI === "true" ? 300 : 60 },
    );
  });

  it("a p2m with tens of thousands of scattered runs (many leaves) stays exact", () => {
    const p = new P2m({ ram: [[0, 2 ** 24 - 1]] });
    p.setIoreqServer(0, 2);
    const never = (): boolean => false;
    const gs: number[] = [];
    let x = 987654321;
    for (let i = 0; i < 30000; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      gs.push(x % 2 ** 24);
    }
    for (const g of gs) p.setMemTypeLoop(g, 1, p2m_ioreq_server, never);
    const distinct = new Set(gs);
    expect(p.entryCount).toBe(distinct.size);
    expect(p.checkInvariants()).toBeNull();
    for (const g of gs.slice(0, 2000)) expect(p.typeOf(g)).toBe("ioreq_server");
    let ioreq = 0;
    for (const r of p.ranges(0, 2 ** 24 - 1)) if (r.type === "ioreq_server") ioreq += r.last - r.first + 1;
    expect(ioreq).toBe(distinct.size);
    for (const g of gs) p.setMemTypeLoop(g, 1, p2m_ram_rw, never);
    expect(p.entryCount).toBe(0);
    expect(p.runCount).toBe(2);
  });
});
