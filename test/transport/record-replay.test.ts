// serve --record writes every call; replay re-runs them on a fresh fake and finds the first divergence.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run as replayCli } from "../../src/cli/commands/replay.js";
import { DeviceModel } from "../../src/devicemodel/index.js";
import { replayTrace } from "../../src/transport/replay.js";
import { SocketTransportFactory } from "../../src/transport/socket.js";
import { TRACE_FORMAT, TraceWriter, type TraceCall } from "../../src/transport/trace.js";
import { serve } from "./harness.js";

const WORLD = { format: 1, domains: [{ domid: 1, type: "hvm" as const, vcpus: 2 }, { domid: 2, type: "hvm" as const, vcpus: 4 }] };

async function recordCalls(file: string): Promise<void> {
  const trace = new TraceWriter(file, { xendm_trace: TRACE_FORMAT, world: WORLD });
  const s = await serve(WORLD, trace);
  const f = new SocketTransportFactory(s.path);
  const a = await DeviceModel.open(f);
  const b = await DeviceModel.open(f, { path: "hypercall" });
  const id = await a.createIoreqServer(1, 1);
  await a.getIoreqServerInfo(1, id, { ioreq_gfn: true, bufioreq_gfn: true });
  await a.mapIoRangeToIoreqServer(1, id, 0, 0x3f8, 0x3ff);
  await a.mapMemTypeToIoreqServer(1, id, 4, 2);
  await a.setMemType(1, 4, 0x100, 4);
  await b.nrVcpus(2);
  await a.trackDirtyVram(1, 0x100, 70);
  await a.restrict(1);
  await a.nrVcpus(2).catch(() => undefined); // EPERM, recorded
  await b.createIoreqServer(1, 0);
  await a.modifiedMemoryBulk(1, [{ nr: 1, first_pfn: 0x100, pad: 1 }]);
  await a.close();
  await b.close();
  await s.stop();
  trace.close();
}

describe("record and replay", () => {
  it("replays recorded calls without divergence; a changed result is reported at its line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-trace-"));
    const file = join(dir, "trace.jsonl");
    await recordCalls(file);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const calls = lines.slice(1).map((l) => JSON.parse(l) as TraceCall);
    expect(calls.filter((c) => c.kind === "hello").length).toBe(3); // xencall + DM_OP handles, and the hypercall-only one
    expect(calls.some((c) => c.kind === "hypercall")).toBe(true);
    expect(calls.some((c) => c.kind === "dm_op" && c.ret === -1 && c.errno === 1)).toBe(true);
    const first = calls.find((c) => c.kind === "dm_op" && c.num === 1);
    expect(first).toMatchObject({ bufs: [{ size: "32", flags: 0, in: "0100000000000000" + "01" + "0".repeat(46) }] });

    const ok = replayTrace(file);
    expect(ok.divergence).toBeUndefined();
    expect(ok.calls).toBe(calls.filter((c) => c.kind !== "close" && c.kind !== "error").length);
    expect(await replayCli([file])).toBe(0);

    // Tamper with the recorded output of the get_ioreq_server_info call.
    const idx = lines.findIndex((l) => l.includes('"kind":"dm_op"') && l.includes('"in":"02000000'));
    expect(idx).toBeGreaterThan(0);
    const bad = JSON.parse(lines[idx]!) as { out: string[] };
    bad.out[0] = bad.out[0]!.replace(/^(.{32})../, "$1ee");
    const tampered = [...lines];
    tampered[idx] = JSON.stringify(bad);
    const file2 = join(dir, "tampered.jsonl");
    writeFileSync(file2, tampered.join("\n") + "\n");
    const r = replayTrace(file2);
    expect(r.divergence).toMatchObject({ line: idx + 1, kind: "dm_op", field: "out" });
    expect(await replayCli([file2])).toBe(1);
    expect(await replayCli([])).toBe(2);
  });
});
