// Replays the conformance driver's calls (its JSON lines) through the TypeScript DeviceModel, over a
// transport that records the bytes DeviceModel hands to each ioctl, in the shim's capture form.
import { DeviceModel, DeviceModelArgumentError, XenError, XenPositiveReturn } from "../../src/devicemodel/index.js";
import type { PrivcmdDevice } from "../../src/privcmd/index.js";
import { InProcessTransportFactory } from "../../src/transport/inprocess.js";
import { bufSize, type CallOutcome, type IoctlOutcome, type Transport, type TransportBuf, type TransportFactory } from "../../src/transport/types.js";
import type { Json } from "./harness.js";

const ENOTTY = 25;

/** What one ioctl carried, as the shim's capture shows it (before the call). */
export interface SentIoctl {
  ioctl: string;
  dom: number;
  num?: number;
  nr?: number;
  bufs?: string[];
}

function hexOf(b: TransportBuf): string {
  const size = Number(bufSize(b));
  return Buffer.from(b.bytes.subarray(0, Math.min(size, b.bytes.length))).toString("hex");
}

class RecordingTransport implements Transport {
  constructor(private readonly inner: Transport, private readonly log: SentIoctl[], private readonly noDmOp: boolean) {}

  dmOp(dom: number, bufs: TransportBuf[], num = bufs.length): Promise<CallOutcome> {
    if (this.noDmOp) {
      this.log.push({ ioctl: "IOCTL_PRIVCMD_DM_OP", dom, num });
      return Promise.resolve({ ret: -1, errno: ENOTTY, bufs: [] });
    }
    this.log.push({ ioctl: "IOCTL_PRIVCMD_DM_OP", dom, num, bufs: bufs.map(hexOf) });
    return this.inner.dmOp(dom, bufs, num);
  }

  restrict(dom: number): Promise<IoctlOutcome> {
    this.log.push({ ioctl: "IOCTL_PRIVCMD_RESTRICT", dom });
    if (this.noDmOp) return Promise.resolve({ ret: -1, errno: ENOTTY });
    return this.inner.restrict(dom);
  }

  hypercall(op: number | bigint, args: readonly (number | bigint)[], bufs: TransportBuf[] = []): Promise<CallOutcome> {
    this.log.push({ ioctl: "IOCTL_PRIVCMD_HYPERCALL", dom: Number(args[0] ?? 0), nr: Number(args[1] ?? 0), bufs: bufs.map(hexOf) });
    if (this.inner.hypercall === undefined) throw new Error("inner transport has no hypercall");
    return this.inner.hypercall(op, args, bufs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

class RecordingFactory implements TransportFactory {
  readonly log: SentIoctl[] = [];
  constructor(private readonly inner: TransportFactory, private readonly noDmOp: boolean) {}
  async open(): Promise<Transport> {
    return new RecordingTransport(await this.inner.open(), this.log, this.noDmOp);
  }
}

/** One replayed call: the result as the C driver prints it, and the ioctls it made. */
export interface Replayed {
  fn: string;
  rc: number;
  errno: number;
  out: Json;
  sent: SentIoctl[];
}

function n(args: Json, key: string): number {
  const v = args[key];
  if (typeof v !== "number") throw new Error(`conformance line: args.${key} is not a number`);
  return v;
}

function extents(nr: number, pad: number): Uint8Array {
  // the driver's array: {nr 2, first_pfn 0x100}, {nr 3, pad, first_pfn 0x180}
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, 2, true);
  v.setBigUint64(8, 0x100n, true);
  v.setUint32(16, 3, true);
  v.setUint32(20, pad, true);
  v.setBigUint64(24, 0x180n, true);
  return nr === 0 ? new Uint8Array(0) : b;
}

type Step = (dm: DeviceModel, a: Json) => Promise<{ rc: number; out?: Json }>;

const rc0 = (p: Promise<unknown>): Promise<{ rc: number }> => p.then((r) => ({ rc: typeof r === "number" ? r : 0 }));

/** One entry per libxendevicemodel function the driver calls (xendevicemodel_open/close are handled apart). */
const STEPS: Readonly<Record<string, Step>> = {
  xendevicemodel_nr_vcpus: async (dm, a) => ({ rc: 0, out: { vcpus: await dm.nrVcpus(n(a, "domid")) } }),
  xendevicemodel_create_ioreq_server: async (dm, a) => ({ rc: 0, out: { id: await dm.createIoreqServer(n(a, "domid"), n(a, "handle_bufioreq")) } }),
  xendevicemodel_get_ioreq_server_info: async (dm, a) => {
    const want = { ioreq_gfn: a.ioreq_gfn === true, bufioreq_gfn: a.bufioreq_gfn === true };
    const info = await dm.getIoreqServerInfo(n(a, "domid"), n(a, "id"), want);
    const out: Json = {};
    if (info.ioreq_gfn !== undefined) out.ioreq_gfn = Number(info.ioreq_gfn);
    if (info.bufioreq_gfn !== undefined) out.bufioreq_gfn = Number(info.bufioreq_gfn);
    if (a.bufioreq_port !== false) out.bufioreq_port = info.bufioreq_port;
    return { rc: 0, out };
  },
  xendevicemodel_map_io_range_to_ioreq_server: (dm, a) =>
    rc0(dm.mapIoRangeToIoreqServer(n(a, "domid"), n(a, "id"), n(a, "is_mmio"), BigInt(n(a, "start")), BigInt(n(a, "end")))),
  xendevicemodel_unmap_io_range_from_ioreq_server: (dm, a) =>
    rc0(dm.unmapIoRangeFromIoreqServer(n(a, "domid"), n(a, "id"), n(a, "is_mmio"), BigInt(n(a, "start")), BigInt(n(a, "end")))),
  xendevicemodel_map_pcidev_to_ioreq_server: (dm, a) =>
    rc0(dm.mapPcidevToIoreqServer(n(a, "domid"), n(a, "id"), n(a, "segment"), n(a, "bus"), n(a, "device"), n(a, "function"))),
  xendevicemodel_unmap_pcidev_from_ioreq_server: (dm, a) =>
    rc0(dm.unmapPcidevFromIoreqServer(n(a, "domid"), n(a, "id"), n(a, "segment"), n(a, "bus"), n(a, "device"), n(a, "function"))),
  xendevicemodel_map_mem_type_to_ioreq_server: (dm, a) =>
    rc0(dm.mapMemTypeToIoreqServer(n(a, "domid"), n(a, "id"), n(a, "type"), n(a, "flags"))),
  xendevicemodel_set_ioreq_server_state: (dm, a) => rc0(dm.setIoreqServerState(n(a, "domid"), n(a, "id"), n(a, "enabled"))),
  xendevicemodel_set_pci_intx_level: (dm, a) =>
    rc0(dm.setPciIntxLevel(n(a, "domid"), n(a, "segment"), n(a, "bus"), n(a, "device"), n(a, "intx"), n(a, "level"))),
  xendevicemodel_set_isa_irq_level: (dm, a) => rc0(dm.setIsaIrqLevel(n(a, "domid"), n(a, "irq"), n(a, "level"))),
  xendevicemodel_set_irq_level: (dm, a) => rc0(dm.setIrqLevel(n(a, "domid"), n(a, "irq"), n(a, "level"))),
  xendevicemodel_set_pci_link_route: (dm, a) => rc0(dm.setPciLinkRoute(n(a, "domid"), n(a, "link"), n(a, "irq"))),
  xendevicemodel_inject_msi: (dm, a) => rc0(dm.injectMsi(n(a, "domid"), BigInt(n(a, "msi_addr")), n(a, "msi_data"))),
  xendevicemodel_track_dirty_vram: async (dm, a) => {
    const bitmap = new Uint8Array(32).fill(0xa5); // the driver's unsigned long[4], pre-filled
    await dm.trackDirtyVram(n(a, "domid"), BigInt(n(a, "first_pfn")), n(a, "nr"), bitmap);
    return { rc: 0, out: n(a, "nr") === 0 ? {} : { dirty_bitmap: Buffer.from(bitmap).toString("hex") } };
  },
  xendevicemodel_modified_memory: (dm, a) => rc0(dm.modifiedMemory(n(a, "domid"), BigInt(n(a, "first_pfn")), n(a, "nr"))),
  xendevicemodel_modified_memory_bulk: async (dm, a) => {
    const nr = n(a, "nr");
    const ext = extents(nr, nr === 0 ? 0 : n(a, "pad"));
    const rc = await dm.modifiedMemoryBulk(n(a, "domid"), ext, nr);
    return { rc, out: nr === 0 ? {} : { extents: Buffer.from(ext).toString("hex") } };
  },
  xendevicemodel_set_mem_type: (dm, a) => rc0(dm.setMemType(n(a, "domid"), n(a, "mem_type"), BigInt(n(a, "first_pfn")), n(a, "nr"))),
  xendevicemodel_inject_event: (dm, a) =>
    rc0(dm.injectEvent(n(a, "domid"), n(a, "vcpu"), n(a, "vector"), n(a, "type"), n(a, "error_code"), n(a, "insn_len"), BigInt(n(a, "extra")))),
  xendevicemodel_shutdown: (dm, a) => rc0(dm.shutdown(n(a, "domid"), n(a, "reason"))),
  xendevicemodel_relocate_memory: (dm, a) =>
    rc0(dm.relocateMemory(n(a, "domid"), n(a, "size"), BigInt(n(a, "src_gfn")), BigInt(n(a, "dst_gfn")))),
  xendevicemodel_pin_memory_cacheattr: (dm, a) =>
    rc0(dm.pinMemoryCacheattr(n(a, "domid"), BigInt(n(a, "start")), BigInt(n(a, "end")), n(a, "type"))),
  xendevicemodel_destroy_ioreq_server: (dm, a) => rc0(dm.destroyIoreqServer(n(a, "domid"), n(a, "id"))),
  xendevicemodel_restrict: (dm, a) => rc0(dm.restrict(n(a, "domid"))),
};

export const REPLAYABLE = Object.keys(STEPS);

/**
 * Runs the driver's calls (`lines`, as printed by `conformance all`) through DeviceModel on `device`.
 * `noDmOp` makes the DM_OP probe fail with ENOTTY as XENDM_SHIM_NO_DMOP does.
 */
export async function replay(device: PrivcmdDevice, lines: readonly Json[], noDmOp: boolean): Promise<Replayed[]> {
  const factory = new RecordingFactory(new InProcessTransportFactory(device), noDmOp);
  const out: Replayed[] = [];
  let dm: DeviceModel | undefined;
  for (const line of lines) {
    const fn = String(line.fn);
    const args = (line.args ?? {}) as Json;
    const start = factory.log.length;
    let rc = 0;
    let err = 0;
    let res: Json = {};
    if (fn === "xendevicemodel_open") {
      dm = await DeviceModel.open(factory, { path: "auto" });
    } else if (fn === "xendevicemodel_close") {
      if (args.handle !== null) await dm?.close();
    } else {
      const step = STEPS[fn];
      if (step === undefined) throw new Error(`no replay step for ${fn}`);
      if (dm === undefined) throw new Error(`${fn} before xendevicemodel_open`);
      try {
        const r = await step(dm, args);
        rc = r.rc;
        res = r.out ?? {};
      } catch (e) {
        if (e instanceof XenError) {
          rc = -1;
          err = e.errno;
        } else if (e instanceof XenPositiveReturn) {
          rc = e.rc;
        } else if (e instanceof DeviceModelArgumentError) {
          throw new Error(`${fn}: the driver's arguments were refused: ${e.message}`);
        } else {
          throw e;
        }
      }
    }
    out.push({ fn, rc, errno: err, out: res, sent: factory.log.slice(start) });
  }
  return out;
}

/** The capture's view of one ioctl, reduced to what SentIoctl holds. */
export function sentFromCapture(c: Json): SentIoctl {
  const s: SentIoctl = { ioctl: String(c.ioctl), dom: Number(c.dom) };
  if (typeof c.num === "number") s.num = c.num;
  if (typeof c.nr === "number") s.nr = c.nr;
  if (Array.isArray(c.bufs)) s.bufs = (c.bufs as Json[]).map((b) => (typeof b.before === "string" ? b.before : "<not read>"));
  return s;
}
