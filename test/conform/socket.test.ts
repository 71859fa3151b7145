// DeviceModel over the socket (no native parts): every call conforms on both paths, and under
// --conform-strict a request built by hand that differs comes back -1/EINVAL through the socket.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConformReport, Conformance, conformObserver } from "../../src/conform/index.js";
import { DeviceModel, XenError } from "../../src/devicemodel/index.js";
import { createFakeHost, worldForDomains } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { readTrace, replayTrace } from "../../src/transport/replay.js";
import { SocketTransportFactory } from "../../src/transport/socket.js";
import { TRACE_FORMAT, TraceWriter } from "../../src/transport/trace.js";

/** The fake's answer does not matter here, only what was sent; a refusal is one too. */
async function tolerate(p: Promise<unknown>): Promise<void> {
  try { await p; } catch (e) { if (!(e instanceof XenError)) throw e; }
}

let check: Conformance;
beforeAll(async () => { check = await Conformance.create(); });

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => { await cleanup?.(); cleanup = undefined; });

async function serve(strict: boolean, record = false): Promise<{ path: string; report: ConformReport; warnings: string[]; trace: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-conform-sock-"));
  const path = join(dir, "sock");
  const report = new ConformReport("libxendevicemodel-4.17", strict);
  const warnings: string[] = [];
  const world = worldForDomains([1]);
  const tracePath = join(dir, "trace.jsonl");
  const trace = record ? new TraceWriter(tracePath, { xendm_trace: TRACE_FORMAT, world }) : undefined;
  const observer = conformObserver({ check, report, warn: (l) => { warnings.push(l); } });
  const server = new XendmServer({ device: createFakeHost(world).device, observer, ...(trace ? { trace } : {}) });
  await server.listen(path);
  let stopped = false;
  const stop = async (): Promise<void> => { if (!stopped) { stopped = true; await server.close(); trace?.close(); } };
  cleanup = async () => { await stop(); rmSync(dir, { recursive: true, force: true }); };
  return { path, report, warnings, trace: tracePath, stop };
}

describe("DeviceModel through xendm serve --conform", () => {
  for (const path of ["ioctl", "hypercall"] as const) {
    it(`conforms on every call (${path} path)`, async () => {
      const s = await serve(true);
      const dm = await DeviceModel.open(new SocketTransportFactory(s.path), { path });
      const id = await dm.createIoreqServer(1, 2);
      await tolerate(dm.getIoreqServerInfo(1, id));
      await tolerate(dm.getIoreqServerInfo(1, id, { ioreq_gfn: true, bufioreq_gfn: true }));
      await tolerate(dm.mapIoRangeToIoreqServer(1, id, 0, 0x3f8, 0x3ff));
      await tolerate(dm.mapIoRangeToIoreqServer(1, id, 1, 0xfe000000, 0xfe000fff));
      await tolerate(dm.mapPcidevToIoreqServer(1, id, 0, 0, 3, 0));
      await tolerate(dm.unmapPcidevFromIoreqServer(1, id, 0, 0, 3, 0));
      await tolerate(dm.unmapIoRangeFromIoreqServer(1, id, 0, 0x3f8, 0x3ff));
      await tolerate(dm.setIoreqServerState(1, id, 1));
      await tolerate(dm.mapMemTypeToIoreqServer(1, id, 4, 2));
      await tolerate(dm.setMemType(1, 4, 0x100, 1));
      await tolerate(dm.setMemType(1, 0, 0x100, 1));
      await tolerate(dm.mapMemTypeToIoreqServer(1, id, 4, 0));
      await tolerate(dm.trackDirtyVram(1, 0x100, 100).catch(() => undefined));
      await tolerate(dm.modifiedMemory(1, 0x100, 1).catch(() => undefined));
      await tolerate(dm.modifiedMemoryBulk(1, [{ first_pfn: 0x100, nr: 1 }, { first_pfn: 0x200, nr: 2 }]).catch(() => undefined));
      await tolerate(dm.setPciIntxLevel(1, 0, 0, 3, 0, 1));
      await tolerate(dm.setIsaIrqLevel(1, 4, 1));
      await tolerate(dm.setIrqLevel(1, 5, 0));
      await tolerate(dm.setPciLinkRoute(1, 0, 5));
      await tolerate(dm.injectMsi(1, 0xfee00000n, 0x4041));
      await tolerate(dm.injectEvent(1, 0, 14, 3, 0x12, 0, 0xdeadbeefn).catch(() => undefined));
      await tolerate(dm.pinMemoryCacheattr(1, 0x100, 0x1ff, 6).catch(() => undefined));
      await tolerate(dm.relocateMemory(1, 1, 0x100, 0x200).catch(() => undefined));
      expect(await dm.nrVcpus(1)).toBeGreaterThan(0);
      await tolerate(dm.nrVcpus(0x1234).catch(() => undefined));
      await tolerate(dm.destroyIoreqServer(1, id));
      await tolerate(dm.shutdown(1, 0));
      await dm.close();
      const j = s.report.toJson();
      expect(s.warnings).toEqual([]);
      expect(j).toMatchObject({ differing: 0, not_library: 0 });
      expect(j.conforming).toBe(j.calls);
      expect(j.calls).toBe(path === "ioctl" ? 29 : 28); // 28 calls, and the open-time probe on the ioctl path
    });
  }

  it("a pad left non-zero comes back -1/EINVAL under strict, and the call is counted as differing", async () => {
    const s = await serve(true);
    const t = await new SocketTransportFactory(s.path).open();
    const op = new Uint8Array(32);
    op.set([12, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1]); // set_mem_type with xen_dm_op.pad = 1
    const r = await t.dmOp(1, [{ bytes: op }]);
    await t.close();
    expect(r).toMatchObject({ ret: -1, errno: 22 });
    expect(s.warnings).toEqual(["FAIL (EINVAL): conn 1 ioctl xendevicemodel_set_mem_type: buffer 0 xen_dm_op.pad at byte offset 4: expected 0, sent 1"]);
    expect(s.report.toJson()).toMatchObject({ calls: 1, differing: 1 });
  });

  it("--record leaves refused calls out (the fake never saw them), so the trace replays", async () => {
    const s = await serve(true, true);
    const t = await new SocketTransportFactory(s.path).open();
    const bad = new Uint8Array(32);
    bad.set([12, 0, 0, 0, 1]); // set_mem_type with xen_dm_op.pad = 1
    const good = new Uint8Array(32);
    good.set([20]); // nr_vcpus
    expect(await t.dmOp(1, [{ bytes: bad }])).toMatchObject({ ret: -1, errno: 22 });
    expect(await t.dmOp(1, [{ bytes: good }])).toMatchObject({ ret: 0 });
    await t.close();
    await s.stop();
    const calls = readTrace(s.trace).calls.map((c) => c.call.kind);
    expect(calls.filter((k) => k === "dm_op")).toHaveLength(1);
    expect(replayTrace(s.trace).divergence).toBeUndefined();
  });
});
