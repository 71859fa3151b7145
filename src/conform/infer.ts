// From a struct xen_dm_op as sent back to the xendevicemodel_* call that would send it, with its
// arguments. One entry per op: the fields the library fills from arguments become the arguments;
// everything else (pads, OUT fields, the library's own constants) is then compared, not inferred.
import {
  XEN_DMOP_IOREQ_MEM_ACCESS_WRITE, XEN_DMOP_IO_RANGE_MEMORY, XEN_DMOP_IO_RANGE_PCI, XEN_DMOP_IO_RANGE_PORT,
  XEN_DMOP_modified_memory, XEN_DMOP_no_gfns, XEN_DMOP_track_dirty_vram, dmOpMembers,
} from "../../abi/xen/dm_op.js";
import { HVMMEM_ioreq_server } from "../../abi/xen/hvm_op.js";
import { getCodec, type StructCodec } from "../codec/index.js";
import type { OpName } from "../devicemodel/wire.js";
import type { LibraryCall } from "./library.js";
import type { SentBuf } from "./types.js";

/** sizeof(struct xen_dm_op) and the offset of its union. */
export const XEN_DM_OP_SIZE = 32;
const U_OFFSET = 8;

type Fields = Readonly<Record<string, unknown>>;
/** A call the library cannot make: why. */
export interface Refused { refused: string }
type Infer = (f: Fields, bufs: readonly SentBuf[]) => LibraryCall | Refused;

const n = (v: unknown): number => (typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : 0);
const b = (v: unknown): bigint => (typeof v === "bigint" ? v : BigInt(n(v)));
const fnOf = (name: string): string => `xendevicemodel_${name}`;

function call(name: string, invoke: LibraryCall["invoke"], callerBuffers?: readonly number[]): LibraryCall {
  return callerBuffers === undefined ? { fn: fnOf(name), invoke } : { fn: fnOf(name), invoke, callerBuffers };
}

/** A zeroed bitmap to stand for the caller's (its contents are the caller's, never compared). */
const BITMAP_MAX = 1 << 20;
let zeros = new Uint8Array(4096);
function bitmapOf(size: number): Uint8Array | undefined {
  if (size > BITMAP_MAX) return undefined; // DeviceModel then sends the size over no memory
  if (zeros.length < size) zeros = new Uint8Array(BITMAP_MAX);
  return zeros.subarray(0, size);
}

function ioRange(map: boolean): Infer {
  return (f) => {
    const type = n(f.type);
    const id = n(f.id);
    if (type === XEN_DMOP_IO_RANGE_PCI) {
      // XEN_DMOP_PCI_SBDF(seg, bus, dev, fn) from start: the library sends start == end == SBDF
      // (mirrors core.c:xendevicemodel_map_pcidev_to_ioreq_server).
      const s = b(f.start);
      const seg = Number((s >> 16n) & 0xffffn), bus = Number((s >> 8n) & 0xffn), dev = Number((s >> 3n) & 0x1fn), fnum = Number(s & 7n);
      return map
        ? call("map_pcidev_to_ioreq_server", (dm, d) => dm.mapPcidevToIoreqServer(d, id, seg, bus, dev, fnum))
        : call("unmap_pcidev_from_ioreq_server", (dm, d) => dm.unmapPcidevFromIoreqServer(d, id, seg, bus, dev, fnum));
    }
    if (type !== XEN_DMOP_IO_RANGE_PORT && type !== XEN_DMOP_IO_RANGE_MEMORY) {
      return { refused: `xen_dm_op.u.${map ? "map_io_range_to_ioreq_server" : "unmap_io_range_from_ioreq_server"}.type ${type}: the library sends only 0 (port), 1 (memory) or 2 (PCI)` };
    }
    const mmio = type === XEN_DMOP_IO_RANGE_MEMORY;
    return map
      ? call("map_io_range_to_ioreq_server", (dm, d) => dm.mapIoRangeToIoreqServer(d, id, mmio, b(f.start), b(f.end)))
      : call("unmap_io_range_from_ioreq_server", (dm, d) => dm.unmapIoRangeFromIoreqServer(d, id, mmio, b(f.start), b(f.end)));
  };
}

const INFER: Readonly<Record<OpName, Infer>> = {
  create_ioreq_server: (f) => call("create_ioreq_server", (dm, d) => dm.createIoreqServer(d, n(f.handle_bufioreq))),
  // XEN_DMOP_no_gfns exactly when the caller passes NULL for both gfn pointers
  // (mirrors core.c:xendevicemodel_get_ioreq_server_info).
  get_ioreq_server_info: (f) => {
    const want = (n(f.flags) & XEN_DMOP_no_gfns) !== 0 ? {} : { ioreq_gfn: true, bufioreq_gfn: true };
    return call("get_ioreq_server_info", (dm, d) => dm.getIoreqServerInfo(d, n(f.id), want));
  },
  map_io_range_to_ioreq_server: ioRange(true),
  unmap_io_range_from_ioreq_server: ioRange(false),
  set_ioreq_server_state: (f) => call("set_ioreq_server_state", (dm, d) => dm.setIoreqServerState(d, n(f.id), n(f.enabled))),
  destroy_ioreq_server: (f) => call("destroy_ioreq_server", (dm, d) => dm.destroyIoreqServer(d, n(f.id))),
  // Buffer 1 is the caller's bitmap; its size the library works out from nr
  // (mirrors core.c:xendevicemodel_track_dirty_vram).
  track_dirty_vram: (f) => {
    const nr = n(f.nr);
    const bitmap = bitmapOf(((nr + 7) >>> 0) >>> 3);
    return call("track_dirty_vram", (dm, d) => dm.trackDirtyVram(d, b(f.first_pfn), nr, bitmap), [1]);
  },
  set_pci_intx_level: (f) => call("set_pci_intx_level", (dm, d) => dm.setPciIntxLevel(d, n(f.domain), n(f.bus), n(f.device), n(f.intx), n(f.level))),
  set_isa_irq_level: (f) => call("set_isa_irq_level", (dm, d) => dm.setIsaIrqLevel(d, n(f.isa_irq), n(f.level))),
  set_pci_link_route: (f) => call("set_pci_link_route", (dm, d) => dm.setPciLinkRoute(d, n(f.link), n(f.isa_irq))),
  // Buffer 1 is the caller's extent array, sent in place (pads included); modified_memory is the
  // same call with one extent built by the library (mirrors core.c:xendevicemodel_modified_memory_bulk).
  modified_memory: (f, bufs) => {
    const ext = bufs[1]?.bytes ?? new Uint8Array(0);
    const nr = n(f.nr_extents);
    return call("modified_memory_bulk", (dm, d) => dm.modifiedMemoryBulk(d, ext, nr), [1]);
  },
  set_mem_type: (f) => call("set_mem_type", (dm, d) => dm.setMemType(d, n(f.mem_type), b(f.first_pfn), n(f.nr))),
  inject_event: (f) => call("inject_event", (dm, d) => dm.injectEvent(d, n(f.vcpuid) | 0, n(f.vector), n(f.type), n(f.error_code), n(f.insn_len), b(f.cr2))),
  inject_msi: (f) => call("inject_msi", (dm, d) => dm.injectMsi(d, b(f.addr), n(f.data))),
  // The library refuses any type but HVMMEM_ioreq_server and any flag but WRITE before calling Xen
  // (mirrors core.c:xendevicemodel_map_mem_type_to_ioreq_server).
  map_mem_type_to_ioreq_server: (f) => {
    const type = n(f.type), flags = n(f.flags);
    if (type !== HVMMEM_ioreq_server) return { refused: `xen_dm_op.u.map_mem_type_to_ioreq_server.type ${type}: xendevicemodel_map_mem_type_to_ioreq_server accepts only HVMMEM_ioreq_server (${HVMMEM_ioreq_server}) and fails EINVAL without a call` };
    if ((flags & ~XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) !== 0) return { refused: `xen_dm_op.u.map_mem_type_to_ioreq_server.flags 0x${flags.toString(16)}: xendevicemodel_map_mem_type_to_ioreq_server accepts only 0 and XEN_DMOP_IOREQ_MEM_ACCESS_WRITE and fails EINVAL without a call` };
    return call("map_mem_type_to_ioreq_server", (dm, d) => dm.mapMemTypeToIoreqServer(d, n(f.id), type, flags));
  },
  remote_shutdown: (f) => call("shutdown", (dm, d) => dm.shutdown(d, n(f.reason))),
  relocate_memory: (f) => call("relocate_memory", (dm, d) => dm.relocateMemory(d, n(f.size), b(f.src_gfn), b(f.dst_gfn))),
  pin_memory_cacheattr: (f) => call("pin_memory_cacheattr", (dm, d) => dm.pinMemoryCacheattr(d, b(f.start), b(f.end), n(f.type))),
  set_irq_level: (f) => call("set_irq_level", (dm, d) => dm.setIrqLevel(d, n(f.irq), n(f.level))),
  nr_vcpus: () => call("nr_vcpus", (dm, d) => dm.nrVcpus(d)),
};

/** The ops that take a second buffer (the caller's memory). */
export const TWO_BUFFER_OPS: ReadonlySet<number> = new Set([XEN_DMOP_track_dirty_vram, XEN_DMOP_modified_memory]);

const codecs = new Map<number, StructCodec>();
function memberCodec(op: number): StructCodec {
  let c = codecs.get(op);
  if (c === undefined) {
    c = getCodec(dmOpMembers[op]!.type, { checkPads: false });
    codecs.set(op, c);
  }
  return c;
}

/** The op in the first 4 bytes of a buffer, or undefined when it has fewer. */
export function opOf(bytes: Uint8Array | undefined): number | undefined {
  if (bytes === undefined || bytes.length < 4) return undefined;
  return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
}

export function isLibraryOp(op: number | undefined): op is number {
  return op !== undefined && op < dmOpMembers.length && dmOpMembers[op] !== undefined;
}

export function memberOf(op: number): string {
  return dmOpMembers[op]!.member;
}

/** The call for a buffer 0 holding a known op (short buffers read as if zero-filled to 32 bytes). */
export function inferCall(op: number, buf0: Uint8Array, bufs: readonly SentBuf[]): LibraryCall | Refused {
  let bytes = buf0;
  if (bytes.length < XEN_DM_OP_SIZE) {
    bytes = new Uint8Array(XEN_DM_OP_SIZE);
    bytes.set(buf0);
  }
  const fields = memberCodec(op).read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), U_OFFSET) as Fields;
  return INFER[memberOf(op) as OpName](fields, bufs);
}
