// libxendevicemodel (tools/libs/devicemodel/core.c and common.c, Xen 4.17) in TypeScript.
// One short method per C function, each in the same three steps as core.c: fill buffer 0 (and the
// caller's second buffer), send it down the ioctl or the hypercall path, read the outputs.
import { XEN_DMOP_IOREQ_MEM_ACCESS_WRITE, XEN_DMOP_IO_RANGE_MEMORY, XEN_DMOP_IO_RANGE_PCI, XEN_DMOP_IO_RANGE_PORT, XEN_DMOP_no_gfns } from "../../abi/xen/dm_op.js";
import { errno } from "../../abi/xen/errno.js";
import { HVMMEM_ioreq_server } from "../../abi/xen/hvm_op.js";
import type { Transport, TransportBuf, TransportFactory } from "../transport/types.js";
import { arg, arg64, type U64Like } from "./args.js";
import { DeviceModelArgumentError, XenError, XenPositiveReturn } from "./errors.js";
import { EXTENT_SIZE, big, extentsBytes, fillOp, num, readOp, type ModifiedMemoryExtent } from "./wire.js";

export const DOMID_INVALID = 0x7ff4;
export const HYPERVISOR_dm_op = 41;

export type DmPath = "ioctl" | "hypercall";

export interface DeviceModelOptions {
  /**
   * "auto" (default) probes IOCTL_PRIVCMD_DM_OP as xendevicemodel_open does and falls back to the
   * hypercall on any error; "ioctl" requires the ioctl; "hypercall" uses libxencall's path only.
   */
  path?: "auto" | DmPath;
}

export interface IoreqServerInfo {
  /** Present when requested (the gfns are read only when asked for, as in C). */
  ioreq_gfn?: bigint;
  bufioreq_gfn?: bigint;
  bufioreq_port: number;
}

export interface IoreqServerInfoRequest {
  /** Whether to read ioreq_gfn / bufioreq_gfn. Both false (default) sends XEN_DMOP_no_gfns. */
  ioreq_gfn?: boolean;
  bufioreq_gfn?: boolean;
}

function isNoDevice(e: unknown): boolean {
  const n = typeof e === "object" && e !== null && "errno" in e ? e.errno : undefined;
  return n === errno.ENOENT || n === errno.ENXIO || n === errno.ENODEV;
}

function buf(bytes: Uint8Array, size?: bigint | number): TransportBuf {
  return size === undefined ? { bytes } : { bytes, size };
}

export class DeviceModel {
  #closed = false;

  private constructor(
    /** The libxencall handle (xencall_open): used by the hypercall path. */
    private readonly xcall: Transport,
    /** The library's own privcmd handle, or undefined when the DM_OP ioctl is not used. */
    private readonly dm: Transport | undefined,
  ) {}

  /** The path calls take, as chosen at open. */
  get path(): DmPath {
    return this.dm !== undefined ? "ioctl" : "hypercall";
  }

  // mirrors core.c:xendevicemodel_open and common.c:osdep_xendevicemodel_open
  static async open(factory: TransportFactory, opts: DeviceModelOptions = {}): Promise<DeviceModel> {
    const mode = opts.path ?? "auto";
    const xcall = await factory.open();
    if (mode === "hypercall") return new DeviceModel(xcall, undefined);
    let dm: Transport;
    try {
      dm = await factory.open();
    } catch (e) {
      // No such device (ENOENT, ENXIO, ENODEV): an old privcmd without DM_OP, silently.
      if (mode === "auto" && isNoDevice(e)) return new DeviceModel(xcall, undefined);
      await xcall.close();
      throw e;
    }
    const probe = await dm.dmOp(DOMID_INVALID, [], 0);
    if (probe.ret >= 0) return new DeviceModel(xcall, dm);
    await dm.close();
    if (mode === "ioctl") {
      await xcall.close();
      throw new XenError("xendevicemodel_open", probe.errno ?? errno.EINVAL, "ioctl");
    }
    return new DeviceModel(xcall, undefined);
  }

  // mirrors core.c:xendevicemodel_close
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.dm?.close();
    await this.xcall.close();
  }

  /**
   * Sends buffers as core.c:xendevicemodel_op does. Returns 0 (ioctl path) or the hypercall's
   * non-negative return (fallback path); throws XenError where C returns -1.
   */
  // Not async: one promise per call fewer on the hot path. Every caller is an async method, so an
  // argument error thrown here still reaches the caller as a rejection.
  #op(fn: string, domid: number, bufs: TransportBuf[]): Promise<number> {
    if (this.#closed) throw new DeviceModelArgumentError(fn, "dmod", "the handle is closed");
    const dom = arg(fn, "domid", domid, "u16");
    if (this.dm !== undefined) {
      // common.c:osdep_xendevicemodel_op: Xen writes the caller's memory in place; rc > 0 -> 0.
      return this.dm.dmOp(dom, bufs).then((r) => {
        if (r.ret < 0) throw new XenError(fn, r.errno ?? 0, "ioctl");
        return 0;
      });
    }
    return this.#xcall(fn, dom, bufs);
  }

  // mirrors core.c:xendevicemodel_xcall: bounce buffers, copied back only when ret >= 0.
  async #xcall(fn: string, dom: number, bufs: TransportBuf[]): Promise<number> {
    if (this.xcall.hypercall === undefined) throw new XenError(fn, errno.ENOSYS, "hypercall");
    const bounce: TransportBuf[] = bufs.map((b) => {
      const size = b.size === undefined ? BigInt(b.bytes.length) : BigInt(b.size);
      // Hostile sizes are never allocated: the copy holds what the caller's memory holds.
      const n = size < BigInt(b.bytes.length) ? Number(size) : b.bytes.length;
      return { bytes: b.bytes.slice(0, n), size };
    });
    const r = await this.xcall.hypercall(HYPERVISOR_dm_op, [BigInt(dom), BigInt(bufs.length), 0n], bounce);
    if (r.ret < 0) throw new XenError(fn, r.errno ?? 0, "hypercall");
    bounce.forEach((b, i) => { bufs[i]!.bytes.set(b.bytes); });
    return r.ret;
  }

  /** For methods with outputs: a positive return means C returns early with outputs untouched. */
  #outputs(fn: string, rc: number): void {
    if (rc !== 0) throw new XenPositiveReturn(fn, rc);
  }

  // mirrors core.c:xendevicemodel_create_ioreq_server
  async createIoreqServer(domid: number, handle_bufioreq: number): Promise<number> {
    const fn = "xendevicemodel_create_ioreq_server";
    const op = fillOp("create_ioreq_server", { handle_bufioreq: arg(fn, "handle_bufioreq", handle_bufioreq, "int") & 0xff });
    this.#outputs(fn, await this.#op(fn, domid, [buf(op)]));
    return num(readOp("create_ioreq_server", op).id);
  }

  // mirrors core.c:xendevicemodel_get_ioreq_server_info
  async getIoreqServerInfo(domid: number, id: number, want: IoreqServerInfoRequest = {}): Promise<IoreqServerInfo> {
    const fn = "xendevicemodel_get_ioreq_server_info";
    const flags = want.ioreq_gfn !== true && want.bufioreq_gfn !== true ? XEN_DMOP_no_gfns : 0;
    const op = fillOp("get_ioreq_server_info", { id: arg(fn, "id", id, "u16"), flags });
    this.#outputs(fn, await this.#op(fn, domid, [buf(op)]));
    const out = readOp("get_ioreq_server_info", op);
    const info: IoreqServerInfo = { bufioreq_port: num(out.bufioreq_port) };
    if (want.ioreq_gfn === true) info.ioreq_gfn = big(out.ioreq_gfn);
    if (want.bufioreq_gfn === true) info.bufioreq_gfn = big(out.bufioreq_gfn);
    return info;
  }

  async #ioRange(fn: string, name: "map_io_range_to_ioreq_server" | "unmap_io_range_from_ioreq_server", domid: number, id: number, is_mmio: number | boolean, start: U64Like, end: U64Like): Promise<number> {
    const mmio = typeof is_mmio === "boolean" ? is_mmio : arg(fn, "is_mmio", is_mmio, "int") !== 0;
    const op = fillOp(name, {
      id: arg(fn, "id", id, "u16"),
      type: mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT,
      start: arg64(fn, "start", start),
      end: arg64(fn, "end", end),
    });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_map_io_range_to_ioreq_server
  async mapIoRangeToIoreqServer(domid: number, id: number, is_mmio: number | boolean, start: U64Like, end: U64Like): Promise<number> {
    return await this.#ioRange("xendevicemodel_map_io_range_to_ioreq_server", "map_io_range_to_ioreq_server", domid, id, is_mmio, start, end);
  }

  // mirrors core.c:xendevicemodel_unmap_io_range_from_ioreq_server
  async unmapIoRangeFromIoreqServer(domid: number, id: number, is_mmio: number | boolean, start: U64Like, end: U64Like): Promise<number> {
    return await this.#ioRange("xendevicemodel_unmap_io_range_from_ioreq_server", "unmap_io_range_from_ioreq_server", domid, id, is_mmio, start, end);
  }

  async #pcidev(fn: string, name: "map_io_range_to_ioreq_server" | "unmap_io_range_from_ioreq_server", domid: number, id: number, segment: number, bus: number, device: number, fnum: number): Promise<number> {
    const s = arg(fn, "segment", segment, "u16");
    const b = arg(fn, "bus", bus, "u8");
    const d = arg(fn, "device", device, "u8");
    const f = arg(fn, "function", fnum, "u8");
    if (d > 0x1f || f > 0x7) throw new XenError(fn, errno.EINVAL, "library");
    // XEN_DMOP_PCI_SBDF computed on uint64_t operands
    const sbdf = (BigInt(s) << 16n) | (BigInt(b) << 8n) | (BigInt(d) << 3n) | BigInt(f);
    const op = fillOp(name, { id: arg(fn, "id", id, "u16"), type: XEN_DMOP_IO_RANGE_PCI, start: sbdf, end: sbdf });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_map_pcidev_to_ioreq_server
  async mapPcidevToIoreqServer(domid: number, id: number, segment: number, bus: number, device: number, fn: number): Promise<number> {
    return await this.#pcidev("xendevicemodel_map_pcidev_to_ioreq_server", "map_io_range_to_ioreq_server", domid, id, segment, bus, device, fn);
  }

  // mirrors core.c:xendevicemodel_unmap_pcidev_from_ioreq_server
  async unmapPcidevFromIoreqServer(domid: number, id: number, segment: number, bus: number, device: number, fn: number): Promise<number> {
    return await this.#pcidev("xendevicemodel_unmap_pcidev_from_ioreq_server", "unmap_io_range_from_ioreq_server", domid, id, segment, bus, device, fn);
  }

  // mirrors core.c:xendevicemodel_map_mem_type_to_ioreq_server
  async mapMemTypeToIoreqServer(domid: number, id: number, type: number, flags: number): Promise<number> {
    const fn = "xendevicemodel_map_mem_type_to_ioreq_server";
    const t = arg(fn, "type", type, "u16");
    const f = arg(fn, "flags", flags, "u32");
    if (t !== HVMMEM_ioreq_server || (f & ~XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) !== 0) throw new XenError(fn, errno.EINVAL, "library");
    const op = fillOp("map_mem_type_to_ioreq_server", { id: arg(fn, "id", id, "u16"), type: t, flags: f });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_destroy_ioreq_server
  async destroyIoreqServer(domid: number, id: number): Promise<number> {
    const fn = "xendevicemodel_destroy_ioreq_server";
    const op = fillOp("destroy_ioreq_server", { id: arg(fn, "id", id, "u16") });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_set_ioreq_server_state
  async setIoreqServerState(domid: number, id: number, enabled: number | boolean): Promise<number> {
    const fn = "xendevicemodel_set_ioreq_server_state";
    const on = typeof enabled === "boolean" ? enabled : arg(fn, "enabled", enabled, "int") !== 0;
    const op = fillOp("set_ioreq_server_state", { id: arg(fn, "id", id, "u16"), enabled: on ? 1 : 0 });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_set_pci_intx_level
  async setPciIntxLevel(domid: number, segment: number, bus: number, device: number, intx: number, level: number): Promise<number> {
    const fn = "xendevicemodel_set_pci_intx_level";
    const op = fillOp("set_pci_intx_level", {
      domain: arg(fn, "segment", segment, "u16"),
      bus: arg(fn, "bus", bus, "u8"),
      device: arg(fn, "device", device, "u8"),
      intx: arg(fn, "intx", intx, "u8"),
      level: arg(fn, "level", level, "u32") & 0xff,
    });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_set_isa_irq_level
  async setIsaIrqLevel(domid: number, irq: number, level: number): Promise<number> {
    const fn = "xendevicemodel_set_isa_irq_level";
    const op = fillOp("set_isa_irq_level", { isa_irq: arg(fn, "irq", irq, "u8"), level: arg(fn, "level", level, "u32") & 0xff });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_set_irq_level
  async setIrqLevel(domid: number, irq: number, level: number): Promise<number> {
    const fn = "xendevicemodel_set_irq_level";
    const op = fillOp("set_irq_level", { irq: arg(fn, "irq", irq, "u32"), level: arg(fn, "level", level, "u32") & 0xff });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_set_pci_link_route
  async setPciLinkRoute(domid: number, link: number, irq: number): Promise<number> {
    const fn = "xendevicemodel_set_pci_link_route";
    const op = fillOp("set_pci_link_route", { link: arg(fn, "link", link, "u8"), isa_irq: arg(fn, "irq", irq, "u8") });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_inject_msi
  async injectMsi(domid: number, msi_addr: U64Like, msi_data: number): Promise<number> {
    const fn = "xendevicemodel_inject_msi";
    const op = fillOp("inject_msi", { addr: arg64(fn, "msi_addr", msi_addr), data: arg(fn, "msi_data", msi_data, "u32") });
    return await this.#op(fn, domid, [buf(op)]);
  }

  /**
   * mirrors core.c:xendevicemodel_track_dirty_vram. Buffer 1 is the caller's bitmap, its size
   * (u32)(nr + 7) / 8 as C computes it. Without `dirty_bitmap` one of that size is made (up to
   * 1 MiB; a larger claim is sent as a descriptor over no memory). Returns the bitmap.
   */
  async trackDirtyVram(domid: number, first_pfn: U64Like, nr: number, dirty_bitmap?: Uint8Array): Promise<Uint8Array> {
    const fn = "xendevicemodel_track_dirty_vram";
    const n = arg(fn, "nr", nr, "u32");
    const size = ((n + 7) >>> 0) >>> 3;
    if (dirty_bitmap !== undefined && dirty_bitmap.length < size) {
      throw new DeviceModelArgumentError(fn, "dirty_bitmap", `${dirty_bitmap.length} bytes, (nr + 7) / 8 = ${size} needed`);
    }
    const bitmap = dirty_bitmap ?? new Uint8Array(size <= 1 << 20 ? size : 0);
    const op = fillOp("track_dirty_vram", { first_pfn: arg64(fn, "first_pfn", first_pfn), nr: n });
    await this.#op(fn, domid, [buf(op), buf(bitmap, size)]);
    return bitmap;
  }

  /**
   * mirrors core.c:xendevicemodel_modified_memory_bulk. `extents` is the caller's array: raw bytes
   * (sent unchanged, pads included) or extent objects (laid out with their `pad` as given).
   * `nr` defaults to the number of extents; the size sent is nr * 16.
   */
  async modifiedMemoryBulk(domid: number, extents: Uint8Array | readonly ModifiedMemoryExtent[], nr?: number): Promise<number> {
    const fn = "xendevicemodel_modified_memory_bulk";
    const bytes = extents instanceof Uint8Array ? extents : extentsBytes(extents);
    const count = arg(fn, "nr", nr ?? Math.floor(bytes.length / EXTENT_SIZE), "u32");
    const size = BigInt(count) * BigInt(EXTENT_SIZE); // size_t arithmetic: no wrap on 64-bit
    if (nr === undefined && bytes.length % EXTENT_SIZE !== 0) {
      throw new DeviceModelArgumentError(fn, "extents", `${bytes.length} bytes is not a whole number of 16-byte extents`);
    }
    const op = fillOp("modified_memory", { nr_extents: count, opaque: 0 });
    return await this.#op(fn, domid, [buf(op), buf(bytes, size)]);
  }

  // mirrors core.c:xendevicemodel_modified_memory: one extent {nr, pad 0, first_pfn}
  async modifiedMemory(domid: number, first_pfn: U64Like, nr: number): Promise<number> {
    const fn = "xendevicemodel_modified_memory";
    const ext = extentsBytes([{ first_pfn: arg64(fn, "first_pfn", first_pfn), nr: arg(fn, "nr", nr, "u32") }]);
    const op = fillOp("modified_memory", { nr_extents: 1, opaque: 0 });
    return await this.#op(fn, domid, [buf(op), buf(ext)]);
  }

  // mirrors core.c:xendevicemodel_set_mem_type (hvmmem_type_t into a uint16_t field)
  async setMemType(domid: number, mem_type: number, first_pfn: U64Like, nr: number): Promise<number> {
    const fn = "xendevicemodel_set_mem_type";
    const op = fillOp("set_mem_type", {
      mem_type: arg(fn, "mem_type", mem_type, "u32") & 0xffff,
      first_pfn: arg64(fn, "first_pfn", first_pfn),
      nr: arg(fn, "nr", nr, "u32"),
    });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_inject_event (int vcpu into a uint32_t field)
  async injectEvent(domid: number, vcpu: number, vector: number, type: number, error_code: number, insn_len: number, extra: U64Like): Promise<number> {
    const fn = "xendevicemodel_inject_event";
    const op = fillOp("inject_event", {
      vcpuid: arg(fn, "vcpu", vcpu, "int") >>> 0,
      vector: arg(fn, "vector", vector, "u8"),
      type: arg(fn, "type", type, "u8"),
      error_code: arg(fn, "error_code", error_code, "u32"),
      insn_len: arg(fn, "insn_len", insn_len, "u8"),
      cr2: arg64(fn, "extra", extra),
    });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_shutdown
  async shutdown(domid: number, reason: number): Promise<number> {
    const fn = "xendevicemodel_shutdown";
    const op = fillOp("remote_shutdown", { reason: arg(fn, "reason", reason, "u32") });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_relocate_memory
  async relocateMemory(domid: number, size: number, src_gfn: U64Like, dst_gfn: U64Like): Promise<number> {
    const fn = "xendevicemodel_relocate_memory";
    const op = fillOp("relocate_memory", {
      size: arg(fn, "size", size, "u32"),
      src_gfn: arg64(fn, "src_gfn", src_gfn),
      dst_gfn: arg64(fn, "dst_gfn", dst_gfn),
    });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_pin_memory_cacheattr
  async pinMemoryCacheattr(domid: number, start: U64Like, end: U64Like, type: number): Promise<number> {
    const fn = "xendevicemodel_pin_memory_cacheattr";
    const op = fillOp("pin_memory_cacheattr", {
      start: arg64(fn, "start", start),
      end: arg64(fn, "end", end),
      type: arg(fn, "type", type, "u32"),
    });
    return await this.#op(fn, domid, [buf(op)]);
  }

  // mirrors core.c:xendevicemodel_nr_vcpus
  async nrVcpus(domid: number): Promise<number> {
    const fn = "xendevicemodel_nr_vcpus";
    const op = fillOp("nr_vcpus", {});
    this.#outputs(fn, await this.#op(fn, domid, [buf(op)]));
    return num(readOp("nr_vcpus", op).vcpus);
  }

  // mirrors common.c:osdep_xendevicemodel_restrict: only the DM_OP handle is restricted.
  async restrict(domid: number): Promise<number> {
    const fn = "xendevicemodel_restrict";
    const dom = arg(fn, "domid", domid, "u16");
    if (this.dm === undefined) throw new XenError(fn, errno.EOPNOTSUPP, "library");
    const r = await this.dm.restrict(dom);
    if (r.ret < 0) throw new XenError(fn, r.errno ?? 0, "ioctl");
    return r.ret;
  }
}
