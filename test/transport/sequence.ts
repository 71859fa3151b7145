// DeviceModel calls touching every function, with results reduced to comparable JSON.
import { DeviceModel, XenError, XenPositiveReturn, type DeviceModelOptions } from "../../src/devicemodel/index.js";
import type { TransportFactory } from "../../src/transport/types.js";

function show(v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]));
  return v;
}

export async function everyFunction(factory: TransportFactory, opts: DeviceModelOptions = {}): Promise<{ path: string; results: unknown[] }> {
  const dm = await DeviceModel.open(factory, opts);
  const results: unknown[] = [];
  const r = async (p: Promise<unknown>): Promise<void> => {
    results.push(await p.then(show, (e: unknown) => {
      if (e instanceof XenError) return `${e.fn}: ${e.errnoName}`;
      if (e instanceof XenPositiveReturn) return `rc ${e.rc}`;
      throw e;
    }));
  };
  await r(dm.nrVcpus(1));
  await r(dm.nrVcpus(0x1234));
  const id = await dm.createIoreqServer(1, 2);
  results.push(id);
  await r(dm.getIoreqServerInfo(1, id, { ioreq_gfn: true, bufioreq_gfn: true }));
  await r(dm.getIoreqServerInfo(1, id));
  await r(dm.mapIoRangeToIoreqServer(1, id, 0, 0x3f8, 0x3ff));
  await r(dm.mapIoRangeToIoreqServer(1, id, 1, 0xfed00000, 0xfed003ff));
  await r(dm.mapIoRangeToIoreqServer(1, id, 0, 0x20, 0x10));
  await r(dm.unmapIoRangeFromIoreqServer(1, id, 1, 0xfed00000, 0xfed003ff));
  await r(dm.mapPcidevToIoreqServer(1, id, 0, 0, 3, 0));
  await r(dm.mapPcidevToIoreqServer(1, id, 0, 0, 0x20, 0));
  await r(dm.unmapPcidevFromIoreqServer(1, id, 0, 0, 3, 0));
  await r(dm.mapMemTypeToIoreqServer(1, id, 4, 2));
  await r(dm.mapMemTypeToIoreqServer(1, id, 4, 1));
  await r(dm.setMemType(1, 4, 0x100, 4));
  await r(dm.setMemType(1, 0, 0x100, 4));
  await r(dm.setIoreqServerState(1, id, 1));
  await r(dm.setPciIntxLevel(1, 0, 0, 3, 0, 1));
  await r(dm.setIsaIrqLevel(1, 5, 1));
  await r(dm.setIrqLevel(1, 10, 1));
  await r(dm.setPciLinkRoute(1, 1, 10));
  await r(dm.injectMsi(1, 0xfee01000, 0x4041));
  await r(dm.trackDirtyVram(1, 0x100, 70, new Uint8Array(16).fill(0xa5)));
  await r(dm.trackDirtyVram(1, 0x100, 0xfffffff8));
  await r(dm.modifiedMemory(1, 0x100, 4));
  await r(dm.modifiedMemoryBulk(1, [{ nr: 2, first_pfn: 0x100 }, { nr: 3, pad: 0x5a, first_pfn: 0x180 }]));
  await r(dm.modifiedMemoryBulk(1, new Uint8Array(0)));
  await r(dm.injectEvent(1, 0, 14, 3, 0x12, 0, 0xdeadbeefcafen));
  await r(dm.injectEvent(1, -1, 2, 2, 0, 0, 0));
  await r(dm.relocateMemory(1, 1, 0x100, 0x200));
  await r(dm.pinMemoryCacheattr(1, 0x100, 0x1ff, 6));
  await r(dm.pinMemoryCacheattr(1, 0x100, 0x1ff, 2));
  await r(dm.setIoreqServerState(1, id, 0));
  await r(dm.destroyIoreqServer(1, id));
  await r(dm.destroyIoreqServer(1, id));
  await r(dm.restrict(1));
  await r(dm.restrict(2));
  await r(dm.nrVcpus(2));
  await r(dm.shutdown(1, 1));
  await dm.close();
  return { path: dm.path, results };
}
