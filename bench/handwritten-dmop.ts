// A hand-written DataView codec for struct xen_dm_op (x86_64): the yardstick the generated codec is
// measured against. Offsets as gcc lays the structs out (see fixtures/layouts/x86_64.json).

type V = DataView;
type Obj = Record<string, number | bigint>;
const n = (x: number | bigint | undefined): number => x as number;
const b = (x: number | bigint | undefined): bigint => x as bigint;

const W: Record<number, (v: V, o: number, p: Obj) => void> = {
  1: (v, o, p) => { v.setUint8(o, n(p.handle_bufioreq)); v.setUint8(o + 1, 0); v.setUint16(o + 2, 0, true); v.setUint16(o + 4, n(p.id), true); },
  2: (v, o, p) => { v.setUint16(o, n(p.id), true); v.setUint16(o + 2, n(p.flags), true); v.setUint32(o + 4, n(p.bufioreq_port), true); v.setBigUint64(o + 8, b(p.ioreq_gfn), true); v.setBigUint64(o + 16, b(p.bufioreq_gfn), true); },
  3: (v, o, p) => { v.setUint16(o, n(p.id), true); v.setUint16(o + 2, 0, true); v.setUint32(o + 4, n(p.type), true); v.setBigUint64(o + 8, b(p.start), true); v.setBigUint64(o + 16, b(p.end), true); },
  5: (v, o, p) => { v.setUint16(o, n(p.id), true); v.setUint8(o + 2, n(p.enabled)); v.setUint8(o + 3, 0); },
  6: (v, o, p) => { v.setUint16(o, n(p.id), true); v.setUint16(o + 2, 0, true); },
  7: (v, o, p) => { v.setUint32(o, n(p.nr), true); v.setUint32(o + 4, 0, true); v.setBigUint64(o + 8, b(p.first_pfn), true); },
  8: (v, o, p) => { v.setUint16(o, n(p.domain), true); v.setUint8(o + 2, n(p.bus)); v.setUint8(o + 3, n(p.device)); v.setUint8(o + 4, n(p.intx)); v.setUint8(o + 5, n(p.level)); },
  9: (v, o, p) => { v.setUint8(o, n(p.isa_irq)); v.setUint8(o + 1, n(p.level)); },
  10: (v, o, p) => { v.setUint8(o, n(p.link)); v.setUint8(o + 1, n(p.isa_irq)); },
  11: (v, o, p) => { v.setUint32(o, n(p.nr_extents), true); v.setUint32(o + 4, n(p.opaque), true); },
  12: (v, o, p) => { v.setUint32(o, n(p.nr), true); v.setUint16(o + 4, n(p.mem_type), true); v.setUint16(o + 6, 0, true); v.setBigUint64(o + 8, b(p.first_pfn), true); },
  13: (v, o, p) => { v.setUint32(o, n(p.vcpuid), true); v.setUint8(o + 4, n(p.vector)); v.setUint8(o + 5, n(p.type)); v.setUint8(o + 6, n(p.insn_len)); v.setUint8(o + 7, 0); v.setUint32(o + 8, n(p.error_code), true); v.setUint32(o + 12, 0, true); v.setBigUint64(o + 16, b(p.cr2), true); },
  14: (v, o, p) => { v.setUint32(o, n(p.data), true); v.setUint32(o + 4, 0, true); v.setBigUint64(o + 8, b(p.addr), true); },
  15: (v, o, p) => { v.setUint16(o, n(p.id), true); v.setUint16(o + 2, n(p.type), true); v.setUint32(o + 4, n(p.flags), true); v.setBigUint64(o + 8, b(p.opaque), true); },
  16: (v, o, p) => { v.setUint32(o, n(p.reason), true); },
  17: (v, o, p) => { v.setUint32(o, n(p.size), true); v.setUint32(o + 4, 0, true); v.setBigUint64(o + 8, b(p.src_gfn), true); v.setBigUint64(o + 16, b(p.dst_gfn), true); },
  18: (v, o, p) => { v.setBigUint64(o, b(p.start), true); v.setBigUint64(o + 8, b(p.end), true); v.setUint32(o + 16, n(p.type), true); v.setUint32(o + 20, 0, true); },
  19: (v, o, p) => { v.setUint32(o, n(p.irq), true); v.setUint8(o + 4, n(p.level)); v.setUint8(o + 5, 0); v.setUint16(o + 6, 0, true); },
  20: (v, o, p) => { v.setUint32(o, n(p.vcpus), true); },
};
W[4] = W[3]!;

const SIZE: Record<number, number> = { 1: 6, 2: 24, 3: 24, 4: 24, 5: 4, 6: 4, 7: 16, 8: 6, 9: 2, 10: 2, 11: 8, 12: 16, 13: 24, 14: 16, 15: 16, 16: 4, 17: 24, 18: 24, 19: 8, 20: 4 };

const R: Record<number, (v: V, o: number) => Obj> = {
  1: (v, o) => ({ handle_bufioreq: v.getUint8(o), id: v.getUint16(o + 4, true) }),
  2: (v, o) => ({ id: v.getUint16(o, true), flags: v.getUint16(o + 2, true), bufioreq_port: v.getUint32(o + 4, true), ioreq_gfn: v.getBigUint64(o + 8, true), bufioreq_gfn: v.getBigUint64(o + 16, true) }),
  3: (v, o) => ({ id: v.getUint16(o, true), type: v.getUint32(o + 4, true), start: v.getBigUint64(o + 8, true), end: v.getBigUint64(o + 16, true) }),
  5: (v, o) => ({ id: v.getUint16(o, true), enabled: v.getUint8(o + 2) }),
  6: (v, o) => ({ id: v.getUint16(o, true) }),
  7: (v, o) => ({ nr: v.getUint32(o, true), first_pfn: v.getBigUint64(o + 8, true) }),
  8: (v, o) => ({ domain: v.getUint16(o, true), bus: v.getUint8(o + 2), device: v.getUint8(o + 3), intx: v.getUint8(o + 4), level: v.getUint8(o + 5) }),
  9: (v, o) => ({ isa_irq: v.getUint8(o), level: v.getUint8(o + 1) }),
  10: (v, o) => ({ link: v.getUint8(o), isa_irq: v.getUint8(o + 1) }),
  11: (v, o) => ({ nr_extents: v.getUint32(o, true), opaque: v.getUint32(o + 4, true) }),
  12: (v, o) => ({ nr: v.getUint32(o, true), mem_type: v.getUint16(o + 4, true), first_pfn: v.getBigUint64(o + 8, true) }),
  13: (v, o) => ({ vcpuid: v.getUint32(o, true), vector: v.getUint8(o + 4), type: v.getUint8(o + 5), insn_len: v.getUint8(o + 6), error_code: v.getUint32(o + 8, true), cr2: v.getBigUint64(o + 16, true) }),
  14: (v, o) => ({ data: v.getUint32(o, true), addr: v.getBigUint64(o + 8, true) }),
  15: (v, o) => ({ id: v.getUint16(o, true), type: v.getUint16(o + 2, true), flags: v.getUint32(o + 4, true), opaque: v.getBigUint64(o + 8, true) }),
  16: (v, o) => ({ reason: v.getUint32(o, true) }),
  17: (v, o) => ({ size: v.getUint32(o, true), src_gfn: v.getBigUint64(o + 8, true), dst_gfn: v.getBigUint64(o + 16, true) }),
  18: (v, o) => ({ start: v.getBigUint64(o, true), end: v.getBigUint64(o + 8, true), type: v.getUint32(o + 16, true) }),
  19: (v, o) => ({ irq: v.getUint32(o, true), level: v.getUint8(o + 4) }),
  20: (v, o) => ({ vcpus: v.getUint32(o, true) }),
};
R[4] = R[3]!;

export function handEncodeInto(op: number, payload: Obj, v: DataView, o: number): void {
  v.setUint32(o, op, true);
  v.setUint32(o + 4, 0, true);
  W[op]!(v, o + 8, payload);
  for (let i = 8 + SIZE[op]!; i < 32; i++) v.setUint8(o + i, 0);
}

export function handDecode(v: DataView, o: number): { op: number; u: Obj } {
  const op = v.getUint32(o, true);
  return { op, u: R[op]!(v, o + 8) };
}

export function handEncodeIoreq(v: DataView, o: number, r: { addr: bigint; data: bigint; count: number; size: number; vp_eport: number; state: number; data_is_ptr: number; dir: number; df: number; type: number }): void {
  v.setBigUint64(o, r.addr, true);
  v.setBigUint64(o + 8, r.data, true);
  v.setUint32(o + 16, r.count, true);
  v.setUint32(o + 20, r.size, true);
  v.setUint32(o + 24, r.vp_eport, true);
  v.setUint16(o + 28, 0, true);
  v.setUint8(o + 30, (r.state & 15) | (r.data_is_ptr << 4) | (r.dir << 5) | (r.df << 6));
  v.setUint8(o + 31, r.type);
}

export function handDecodeIoreq(v: DataView, o: number): Obj {
  const bits = v.getUint8(o + 30);
  return {
    addr: v.getBigUint64(o, true),
    data: v.getBigUint64(o + 8, true),
    count: v.getUint32(o + 16, true),
    size: v.getUint32(o + 20, true),
    vp_eport: v.getUint32(o + 24, true),
    state: bits & 15,
    data_is_ptr: (bits >> 4) & 1,
    dir: (bits >> 5) & 1,
    df: (bits >> 6) & 1,
    type: v.getUint8(o + 31),
  };
}
