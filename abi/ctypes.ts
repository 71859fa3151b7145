// C type declarations as data, and their layout under a given ABI profile.
// Declarations mirror the C headers one for one; `resolve` computes offsets, sizes, alignment and GCC
// bitfield placement (a bitfield starts at the next free bit unless it would straddle a unit of its
// declared type, in which case it moves to the next such unit; units are allocated LSB first).

import { PROFILES, type Arch, type Profile } from "./profiles.js";

/** Scalars whose size or alignment depends on the ABI. */
export type ScalarName = "u8" | "u16" | "u32" | "u64" | "u64a" | "xen_ulong_t" | "ptr" | "size_t";

/** XEN_GUEST_HANDLE(void): its shape depends on the ABI (see GUEST_HANDLE_VOID below). */
export type HandleName = "guest_handle_void";

/** Symbolic names accepted on input for a field, name -> value. */
export type EnumTable = Readonly<Record<string, number>>;

export interface FieldDecl {
  readonly name: string;
  readonly type: ScalarName | HandleName | StructDecl | UnionDecl;
  /** bitfield width (the declared type is the storage unit) */
  readonly bits?: number;
  /** array element count */
  readonly count?: number;
  /** a declared pad: must be zero on strict decode */
  readonly pad?: boolean;
  /** symbolic values accepted on encode and shown by dump */
  readonly enum?: EnumTable;
  /** for a union field: the sibling field whose value selects the member, and value -> member name */
  readonly select?: { readonly by: string; readonly members: Readonly<Record<number, string>> };
}

export interface StructDecl {
  readonly kind: "struct";
  /** struct tag (or `outer.field` for an anonymous aggregate) */
  readonly name: string;
  readonly typedef?: string;
  readonly fields: readonly FieldDecl[];
  /** extra alignment from __attribute__((aligned)) */
  readonly minAlign?: number;
}

export interface UnionDecl {
  readonly kind: "union";
  readonly name: string;
  readonly typedef?: string;
  readonly fields: readonly FieldDecl[];
  readonly minAlign?: number;
  /** member decoded when nothing selects one (the one covering the whole union) */
  readonly decodeAs?: string;
}

export type AggregateDecl = StructDecl | UnionDecl;

// ---- resolved layouts ----

export interface IntLayout {
  readonly kind: "int";
  readonly name: ScalarName;
  readonly size: 1 | 2 | 4 | 8;
  readonly align: number;
}

export interface FieldLayout {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly type: IntLayout | AggregateLayout;
  readonly count?: number;
  readonly pad: boolean;
  readonly enum?: EnumTable;
  readonly select?: FieldDecl["select"];
  /** bitfields: absolute bit offset in the enclosing aggregate, width, and storage unit */
  readonly bitOffset?: number;
  readonly bitWidth?: number;
  readonly unitOffset?: number;
  readonly unitSize?: 1 | 2 | 4;
}

export interface AggregateLayout {
  readonly kind: "struct" | "union";
  readonly name: string;
  readonly typedef?: string;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
  readonly decodeAs?: string;
  readonly decl: AggregateDecl;
}

function scalar(name: ScalarName, p: Profile): IntLayout {
  switch (name) {
    case "u8":
      return { kind: "int", name, size: 1, align: 1 };
    case "u16":
      return { kind: "int", name, size: 2, align: 2 };
    case "u32":
      return { kind: "int", name, size: 4, align: 4 };
    case "u64":
      return { kind: "int", name, size: 8, align: p.u64Align };
    case "u64a":
      return { kind: "int", name, size: 8, align: 8 };
    case "xen_ulong_t":
      return p.xenUlongSize === 8 ? { kind: "int", name, size: 8, align: 8 } : { kind: "int", name, size: 4, align: 4 };
    case "ptr":
    case "size_t":
      return { kind: "int", name, size: p.pointerSize, align: p.pointerSize };
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

const cache = new Map<string, AggregateLayout>();

/** Lays out an aggregate declaration for one ABI. Results are cached per (arch, declaration). */
export function resolve(decl: AggregateDecl, arch: Arch): AggregateLayout {
  const key = arch + "\0" + decl.name;
  const hit = cache.get(key);
  if (hit !== undefined && hit.decl === decl) return hit;
  const out = resolveUncached(decl, PROFILES[arch], arch);
  cache.set(key, out);
  return out;
}

// xen.h: x86 defines the handle as struct { void *p; } (__guest_handle_void); Arm as a union with a
// uint64_t, aligned 8 (__guest_handle_64_void).
export const GUEST_HANDLE_VOID_X86: StructDecl = {
  kind: "struct",
  name: "__guest_handle_void",
  fields: [{ name: "p", type: "ptr" }],
};
export const GUEST_HANDLE_VOID_ARM: UnionDecl = {
  kind: "union",
  name: "__guest_handle_64_void",
  fields: [
    { name: "p", type: "ptr" },
    { name: "q", type: "u64" },
  ],
  minAlign: 8,
  decodeAs: "q",
};

export function guestHandleDecl(arch: Arch): AggregateDecl {
  return PROFILES[arch].guestHandle === "struct" ? GUEST_HANDLE_VOID_X86 : GUEST_HANDLE_VOID_ARM;
}

function resolveType(t: FieldDecl["type"], p: Profile, arch: Arch): IntLayout | AggregateLayout {
  if (t === "guest_handle_void") return resolve(guestHandleDecl(arch), arch);
  return typeof t === "string" ? scalar(t, p) : resolve(t, arch);
}

function resolveUncached(decl: AggregateDecl, p: Profile, arch: Arch): AggregateLayout {
  const fields: FieldLayout[] = [];
  let align = decl.minAlign ?? 1;
  let bitPos = 0; // next free bit (structs)
  let maxSize = 0; // unions
  for (const f of decl.fields) {
    const t = resolveType(f.type, p, arch);
    align = Math.max(align, t.align);
    const common = {
      name: f.name,
      type: t,
      pad: f.pad === true,
      ...(f.count !== undefined ? { count: f.count } : {}),
      ...(f.enum !== undefined ? { enum: f.enum } : {}),
      ...(f.select !== undefined ? { select: f.select } : {}),
    };
    if (f.bits !== undefined) {
      if (t.kind !== "int" || t.size > 4) throw new Error(`${decl.name}.${f.name}: bitfield needs an integer unit of at most 4 bytes`);
      const unitBits = t.size * 8;
      let start = decl.kind === "union" ? 0 : bitPos;
      if (Math.floor(start / unitBits) !== Math.floor((start + f.bits - 1) / unitBits)) start = alignUp(start, unitBits);
      const unitOffset = Math.floor(start / unitBits) * t.size;
      const offset = Math.floor(start / 8);
      fields.push({
        ...common,
        offset,
        size: Math.ceil((start + f.bits) / 8) - offset,
        bitOffset: start,
        bitWidth: f.bits,
        unitOffset,
        unitSize: t.size as 1 | 2 | 4,
      });
      if (decl.kind === "struct") bitPos = start + f.bits;
      else maxSize = Math.max(maxSize, t.size);
      continue;
    }
    const size = t.size * (f.count ?? 1);
    if (decl.kind === "union") {
      fields.push({ ...common, offset: 0, size });
      maxSize = Math.max(maxSize, size);
    } else {
      const offset = alignUp(Math.ceil(bitPos / 8), t.align);
      fields.push({ ...common, offset, size });
      bitPos = (offset + size) * 8;
    }
  }
  const raw = decl.kind === "union" ? maxSize : Math.ceil(bitPos / 8);
  return {
    kind: decl.kind,
    name: decl.name,
    ...(decl.typedef !== undefined ? { typedef: decl.typedef } : {}),
    size: alignUp(raw, align),
    align,
    fields,
    ...(decl.kind === "union" && decl.decodeAs !== undefined ? { decodeAs: decl.decodeAs } : {}),
    decl,
  };
}

/** Every aggregate reachable from `roots` under `arch`, in declaration order (nested before users). */
export function collect(roots: readonly AggregateDecl[], arch: Arch): AggregateDecl[] {
  const seen = new Set<AggregateDecl>();
  const out: AggregateDecl[] = [];
  const visit = (d: AggregateDecl): void => {
    if (seen.has(d)) return;
    seen.add(d);
    for (const f of d.fields) {
      if (f.type === "guest_handle_void") visit(guestHandleDecl(arch));
      else if (typeof f.type !== "string") visit(f.type);
    }
    out.push(d);
  };
  for (const r of roots) visit(r);
  return out;
}
