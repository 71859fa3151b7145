// A guest write to a p2m_ram_logdirty page takes the log-dirty fault: the pfn is marked dirty (while
// log-dirty mode is on) and the entry goes back to ram_rw, so track_dirty_vram and the dirty log
// report the page. mirrors arch/x86/hvm/hvm.c:hvm_hap_nested_page_fault (p2m_is_ram, write access)
// -> paging.c:paging_mark_pfn_dirty, p2m.c:p2m_change_type_one; paging.c:paging_log_dirty_range
import { describe, expect, it } from "vitest";
import { encode } from "../../src/codec/index.js";
import { host, GUEST, DOM0 } from "./helpers.js";

/** track_dirty_vram over [first, first + nr): the bitmap's bits as a list of pfn offsets. */
function dirtyVram(hv: ReturnType<typeof host>["hv"], first: number, nr: number): number[] {
  const op = encode("xen_dm_op", { op: "XEN_DMOP_track_dirty_vram", u: { track_dirty_vram: { first_pfn: BigInt(first), nr } } });
  const bitmap = new Uint8Array(Math.ceil(nr / 8));
  const rc = hv.dm_op(DOM0, GUEST, [{ bytes: op }, { bytes: bitmap }]);
  if (rc !== 0) throw new Error(`track_dirty_vram: rc ${rc}`);
  const out: number[] = [];
  for (let i = 0; i < nr; i++) if ((bitmap[i >> 3]! >> (i & 7)) & 1) out.push(i);
  return out;
}

describe("the log-dirty fault on guest writes", () => {
  it("track_dirty_vram reports exactly the pages the guest wrote since the last call", () => {
    const { hv, guest } = host();
    const p2m = hv.domain(GUEST)!.p2m;
    expect(dirtyVram(hv, 0x400, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // a new range: all dirty
    expect(p2m.typeOf(0x402)).toBe("ram_logdirty");
    expect(dirtyVram(hv, 0x400, 8)).toEqual([]);
    expect(guest.mem(GUEST, 0, { addr: 0x402010, size: 4, dir: "write", data: 0x12345678 })).toEqual({ status: "done" });
    expect(p2m.typeOf(0x402)).toBe("ram_rw");
    expect(guest.memoryOf(GUEST).read(0x402010, 4)).toEqual(Uint8Array.of(0x78, 0x56, 0x34, 0x12));
    // a write across a page boundary faults on both pages
    guest.mem(GUEST, 1, { addr: 0x405ffe, size: 4, dir: "write", data: 1 });
    // a read does not fault
    guest.mem(GUEST, 0, { addr: 0x407000, size: 4, dir: "read" });
    expect(dirtyVram(hv, 0x400, 8)).toEqual([2, 5, 6]);
    expect(p2m.typeOf(0x402)).toBe("ram_logdirty");
    expect(dirtyVram(hv, 0x400, 8)).toEqual([]);
  });

  it("in global log-dirty mode the written pfn lands in the dirty log", () => {
    const { hv, guest } = host();
    const p2m = hv.domain(GUEST)!.p2m;
    expect(p2m.enableLogDirty(true)).toBe(0);
    expect(p2m.typeOf(0x300)).toBe("ram_logdirty");
    guest.mem(GUEST, 0, { addr: 0x300008, size: 8, dir: "write", data: 5n });
    expect(p2m.isDirty(0x300)).toBe(true);
    expect(p2m.isDirty(0x301)).toBe(false);
    expect(p2m.typeOf(0x300)).toBe("ram_rw");
    expect(p2m.typeOf(0x301)).toBe("ram_logdirty");
  });

  it("without log-dirty mode nothing is recorded and RAM stays ram_rw", () => {
    const { hv, guest } = host();
    const p2m = hv.domain(GUEST)!.p2m;
    guest.mem(GUEST, 0, { addr: 0x300008, size: 8, dir: "write", data: 5n });
    expect(p2m.isDirty(0x300)).toBe(false);
    expect(p2m.typeOf(0x300)).toBe("ram_rw");
  });
});
