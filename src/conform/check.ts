// The conformance check: given a DM_OP or HYPERCALL(dm_op) as the server received it, the
// xendevicemodel_* call it stands for, what the real library would send for the same arguments, and
// every difference between the two, named by C field and byte offset.
import type { Arch } from "../../abi/profiles.js";
import { XEN_DMOP_track_dirty_vram, dmOpMembers } from "../../abi/xen/dm_op.js";
import { DOMID_INVALID } from "../../abi/xen/xen.js";
import type { TransportBuf } from "../transport/types.js";
import { countField, descriptorLayout, hypercallArg, readLe, show, showSize, sizeField, xenDmOpSpans } from "./fields.js";
import { TWO_BUFFER_OPS, XEN_DM_OP_SIZE, inferCall, isLibraryOp, memberOf, opOf } from "./infer.js";
import { LibraryModel } from "./library.js";
import type { Difference, SentBuf, SentCall, Verdict } from "./types.js";

/** The conformance targets this check knows. */
export const CONFORM_TARGETS = ["libxendevicemodel-4.17"] as const;
export type ConformTarget = (typeof CONFORM_TARGETS)[number];

export function isConformTarget(s: string): s is ConformTarget {
  return (CONFORM_TARGETS as readonly string[]).includes(s);
}

const PROBE = { status: "conforms", op: "probe (num 0)", fn: "xendevicemodel_open" } as const satisfies Verdict;
const UNKNOWN_OP = "(no readable xen_dm_op)";
const IN_ORDER_1: readonly number[] = [0];
const IN_ORDER_2: readonly number[] = [0, 1];
const SWAPPED: readonly number[] = [1, 0];
const NONE: readonly number[] = [];
/** The Linux privcmd driver's per-buffer limit (privcmd.c:privcmd_ioctl_dm_op, dm_op_buf_max_size): larger buffers never travel. */
const DM_OP_BUF_MAX_SIZE = 4096n;

function opName(op: number): string {
  return `XEN_DMOP_${memberOf(op)}`;
}

function sizeOf(b: TransportBuf): bigint {
  return b.size === undefined ? BigInt(b.bytes.length) : BigInt(b.size);
}

/**
 * On a 64-bit ABI, a buffer 0 size whose high half is a plausible buffer size and whose low half is not
 * zero is what an array of 32-bit {uptr, size} pairs reads as: the i386 / arm32 layout (buffer 1's
 * pointer and size read as buffer 0's size), as privcmd.c:privcmd_ioctl_dm_op copies the array in with
 * the kernel's layout. The library's buffer 0 is always 32 bytes.
 */
function thirtyTwoBitPairs(call: SentCall): Difference | undefined {
  const d = descriptorLayout(call.path, call.abi);
  const s = call.bufs[0]?.size ?? 0n;
  const hi = s >> 32n, lo = s & 0xffff_ffffn;
  if (d.ptr.size !== 8 || hi === 0n || hi > 0x10_0000n || lo === 0n) return undefined;
  const at = sizeField(call.path, call.abi, 0);
  return {
    kind: "descriptor-layout", buffer: 0, field: at.field, offset: at.offset,
    expected: `a ${d.size}-byte struct ${d.type} per buffer (${d.ptr.name} at ${d.ptr.offset}, size at ${d.len.offset}, ${d.len.size} bytes each) on ${call.abi}`,
    sent: show(s),
    note: `reads as two 32-bit fields (0x${lo.toString(16)}, ${hi}): an array of 8-byte {${d.ptr.name}, size} pairs, the i386 layout`,
  };
}

export class Conformance {
  private constructor(readonly target: ConformTarget, private readonly lib: LibraryModel) {}

  static async create(target: ConformTarget = "libxendevicemodel-4.17"): Promise<Conformance> {
    return new Conformance(target, await LibraryModel.create());
  }

  check(call: SentCall): Verdict {
    const bufs = call.bufs;
    if (call.num === 0 && bufs.length === 0) {
      if (call.path === "ioctl" && call.dom === DOMID_INVALID) return PROBE;
      return { status: "not-a-library-call", op: "(no buffers)", reason: `no buffers on domain ${call.dom}: the library sends num 0 only as its open-time probe, on the ioctl path with DOMID_INVALID` };
    }
    const b0 = bufs[0];
    if (b0 !== undefined && b0.bytes === undefined) {
      // An i386-layout array reads as sizes made of two 32-bit fields (never read: over 4096).
      const layout = b0.size > DM_OP_BUF_MAX_SIZE ? thirtyTwoBitPairs(call) : undefined;
      if (layout !== undefined) return { status: "differs", op: UNKNOWN_OP, fn: "(unknown)", differences: [layout] };
      const big = bufs.findIndex((b) => b.size > DM_OP_BUF_MAX_SIZE);
      if (!b0.unreadable && b0.size <= DM_OP_BUF_MAX_SIZE && big > 0) {
        return { status: "unchecked", op: UNKNOWN_OP, reason: `buffer ${big} is ${showSize(bufs[big]!.size)} bytes: over 4096, so no contents reached the server (the kernel refuses the call with E2BIG before reading it)` };
      }
    }

    // Where is the struct xen_dm_op? Buffer 0, or buffer 1 of a two-buffer op sent the wrong way round.
    let order: readonly number[] = bufs.length === 1 ? IN_ORDER_1 : bufs.length === 2 ? IN_ORDER_2 : bufs.map((_, i) => i);
    let op = opOf(bufs[0]?.bytes);
    const diffs: Difference[] = [];
    if (bufs.length === 2 && !(isLibraryOp(op) && TWO_BUFFER_OPS.has(op))) {
      const op1 = opOf(bufs[1]!.bytes);
      if (isLibraryOp(op1) && TWO_BUFFER_OPS.has(op1) && bufs[1]!.bytes!.length === XEN_DM_OP_SIZE) {
        order = SWAPPED;
        op = op1;
        diffs.push({
          kind: "buffer-order", buffer: 0, field: `${descriptorLayout(call.path, call.abi).type}[0]`, offset: 0,
          expected: `buffer 0 = struct xen_dm_op (32 bytes), buffer 1 = ${op1 === XEN_DMOP_track_dirty_vram ? "the dirty bitmap" : "the struct xen_dm_op_modified_memory_extent array"}`,
          sent: `buffer 0 = ${bufs[0]!.size} bytes, buffer 1 = struct xen_dm_op (${opName(op1)})`,
        });
      }
    }
    const first = bufs[order[0]!];
    if (first === undefined) {
      const at = countField(call.path, call.abi);
      return { status: "differs", op: UNKNOWN_OP, fn: "(unknown)", differences: [{ kind: "buffer-count", ...at, expected: "1 or 2", sent: String(call.num) }] };
    }
    if (first.bytes === undefined || !isLibraryOp(op)) {
      if (first.bytes !== undefined && first.bytes.length >= 4) {
        return { status: "not-a-library-call", op: `op ${op! < dmOpMembers.length ? op : `>= ${dmOpMembers.length}`}`, reason: `xen_dm_op.op ${op}: no xendevicemodel function sends it` };
      }
      return { status: "differs", op: UNKNOWN_OP, fn: "(unknown)", differences: [this.#noStruct(call, first)] };
    }
    const inferred = inferCall(op, first.bytes, order === SWAPPED ? [bufs[1]!, bufs[0]!] : bufs);
    if ("refused" in inferred) return { status: "not-a-library-call", op: opName(op), reason: inferred.refused };
    const emitted = this.lib.emit(call.path, call.dom, inferred);
    if (emitted === undefined) return { status: "not-a-library-call", op: opName(op), reason: `${inferred.fn} refuses these arguments without a call` };

    const exp = emitted.bufs;
    if (exp.length !== bufs.length) {
      diffs.push({ kind: "buffer-count", ...countField(call.path, call.abi), expected: String(exp.length), sent: String(call.num) });
    }
    const caller = inferred.callerBuffers ?? NONE;
    for (let e = 0; e < exp.length && e < order.length; e++) {
      const i = order[e]!;
      this.#compareBuf(call, i, e, exp[e]!, bufs[i]!, op, caller.includes(e), diffs);
    }
    if (call.path === "hypercall" && call.args !== undefined) this.#compareArgs(call.abi, call.args, emitted.args ?? [], diffs);
    return diffs.length === 0 ? { status: "conforms", op: opName(op), fn: inferred.fn } : { status: "differs", op: opName(op), fn: inferred.fn, differences: diffs };
  }

  #noStruct(call: SentCall, b: SentBuf): Difference {
    const at = sizeField(call.path, call.abi, 0);
    const why = b.unreadable ? "unreadable" : b.size > DM_OP_BUF_MAX_SIZE ? "over 4096 bytes (never read)" : "shorter than its op";
    return {
      kind: b.unreadable ? "buffer-unreadable" : "buffer-size", buffer: 0, field: at.field, offset: at.offset,
      expected: `${XEN_DM_OP_SIZE} readable bytes (struct xen_dm_op)`, sent: `${showSize(b.size)} bytes, ${why}`,
    };
  }

  #compareBuf(call: SentCall, i: number, e: number, exp: TransportBuf, sent: SentBuf, op: number, callerMemory: boolean, diffs: Difference[]): void {
    const want = sizeOf(exp);
    if (want !== sent.size) {
      const at = sizeField(call.path, call.abi, i);
      diffs.push({ kind: "buffer-size", buffer: i, field: at.field, offset: at.offset, expected: showSize(want), sent: showSize(sent.size), note: this.#sizeNote(op, e, exp) });
    }
    if (sent.unreadable && !callerMemory) {
      const d = descriptorLayout(call.path, call.abi);
      diffs.push({ kind: "buffer-unreadable", buffer: i, field: `${d.type}[${i}].${d.ptr.name}`, offset: i * d.size + d.ptr.offset, expected: "the library's own readable memory", sent: "unreadable" });
    }
    if (callerMemory || e !== 0 || sent.bytes === undefined) return;
    const got = sent.bytes, ref = exp.bytes;
    const n = Math.min(got.length, ref.length);
    for (const span of xenDmOpSpans(op)) {
      if (span.offset >= n) break;
      const end = Math.min(span.offset + span.size, n);
      let same = true;
      for (let k = span.offset; k < end; k++) if (got[k] !== ref[k]) { same = false; break; }
      if (same) continue;
      const len = end - span.offset;
      const d: Difference = { kind: "field", buffer: i, field: span.path, offset: span.offset, expected: show(readLe(ref, span.offset, len)), sent: show(readLe(got, span.offset, len)) };
      if (span.note !== undefined) d.note = span.note;
      diffs.push(d);
    }
  }

  #sizeNote(op: number, e: number, exp: TransportBuf): string {
    if (e === 0) return "sizeof(struct xen_dm_op): the library always sends the whole struct";
    if (op === XEN_DMOP_track_dirty_vram) return `(nr + 7) / 8 bytes of dirty bitmap, computed in 32 bits, for xen_dm_op.u.track_dirty_vram.nr`;
    return `xen_dm_op.u.modified_memory.nr_extents x 16 bytes (struct xen_dm_op_modified_memory_extent); ${sizeOf(exp)} expected`;
  }

  #compareArgs(abi: Arch, sent: readonly bigint[], want: readonly bigint[], diffs: Difference[]): void {
    // arg[2] is the buffer array's address; the library passes nothing in arg[3] and arg[4].
    const expected = [want[0] ?? 0n, want[1] ?? 0n, undefined, 0n, 0n];
    for (let k = 0; k < 5; k++) {
      const w = expected[k];
      if (k === 1 || w === undefined) continue; // arg[1] is the buffer count, compared as such
      const s = sent[k] ?? 0n;
      if (s !== w) diffs.push({ kind: "hypercall-arg", ...hypercallArg(k, abi), expected: show(w), sent: show(s) });
    }
  }
}

/** The connection ABI numbers of the HELLO frame. */
export const ABI_BY_NUMBER: readonly Arch[] = ["x86_64", "i386", "arm64", "arm32"];
