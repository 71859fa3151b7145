// xendm conform TRACE.jsonl: the check after the fact, on what `--record` wrote.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DeviceModel } from "../../src/devicemodel/index.js";
import { createFakeHost, worldForDomains } from "../../src/transport/fake.js";
import { XendmServer } from "../../src/transport/server.js";
import { SocketTransportFactory } from "../../src/transport/socket.js";
import { TRACE_FORMAT, TraceWriter } from "../../src/transport/trace.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "xendm-conform-trace-"));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

/** Records a run: `body` runs against a fresh server with --record. */
async function record(name: string, body: (sock: string) => Promise<void>): Promise<string> {
  const world = worldForDomains([1]);
  const file = join(dir, `${name}.jsonl`);
  const trace = new TraceWriter(file, { xendm_trace: TRACE_FORMAT, world });
  const server = new XendmServer({ device: createFakeHost(world).device, trace });
  const sock = join(dir, `${name}.sock`);
  await server.listen(sock);
  try {
    await body(sock);
  } finally {
    await server.close();
    trace.close();
  }
  return file;
}

function xendm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/xendm.js"), ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("xendm conform TRACE.jsonl", () => {
  it("a DeviceModel run conforms (exit 0); a hand-made call with a pad set differs (exit 1, line named)", async () => {
    const good = await record("good", async (sock) => {
      for (const path of ["ioctl", "hypercall"] as const) {
        const dm = await DeviceModel.open(new SocketTransportFactory(sock), { path });
        await dm.nrVcpus(1);
        await dm.setMemType(1, 1, 0x100, 1);
        await dm.close();
      }
    });
    const ok = xendm(["conform", good]);
    expect(ok.stdout.split("\n")[0]).toBe("conformance to libxendevicemodel-4.17: 5 calls, 5 conforming, 0 differing, 0 not library calls");
    expect(ok.status).toBe(0);

    const bad = await record("bad", async (sock) => {
      const t = await new SocketTransportFactory(sock, { abi: "i386" }).open();
      const op = new Uint8Array(32);
      op.set([12, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 7, 0]); // set_mem_type, xen_dm_op.u.set_mem_type.pad = 7
      await t.dmOp(1, [{ bytes: op, size: 40 }]);
      await t.close();
    });
    const r = xendm(["conform", "--json", bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("xendm conform: warning: conn 1 ioctl (line 3) xendevicemodel_set_mem_type: privcmd_dm_op_buf[0].size at byte offset 4: expected 32, sent 40");
    expect(r.stderr).toContain("buffer 0 xen_dm_op.u.set_mem_type.pad at byte offset 14: expected 0, sent 7");
    expect(JSON.parse(r.stdout)).toMatchObject({ calls: 1, differing: 1, operations: [{ fn: "xendevicemodel_set_mem_type" }] });
  });

  it("bad input is exit 2 with one line", () => {
    const r = xendm(["conform", join(dir, "missing.jsonl")]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
