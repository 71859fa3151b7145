// A device model on Debian's real libxendevicemodel, libxenforeignmemory and libxenevtchn, out of
// process: it maps its ioreq server's pages (MMAP_RESOURCE over the server's shared file), binds the
// vCPU ports, and answers the fake's guest accesses in the shared page; its notify completes them.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { beforeAll, describe, expect, it } from "vitest";
import { guestOf } from "../../src/hypervisor/emulate.js";
import type { AccessResult } from "../../src/hypervisor/emulate-types.js";
import { BUILD, DOM, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer, type Json } from "./harness.js";

const EINVAL = 22;

const CLIENT = join(BUILD, "ioreqclient");

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/native/ioreq SKIPPED: ${missing}. Shared ioreq pages are NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

suite("an out-of-process device model on shared ioreq pages", () => {
  beforeAll(() => { buildNative(); });

  const root = process.getuid?.() === 0;
  for (const depriv of [false, true]) {
  it(`maps frames 0 and 1, answers port reads and writes through the shared page; each access completes${depriv ? " (deprivileged: restricted, chrooted, uid 65534, no network, clone forbidden)" : ""}`, async (ctx) => {
    if (depriv && !root) {
      if (ci) throw new Error("the deprivileged run needs root (chroot, setuid)");
      ctx.skip();
    }
    const srv = await startServer({ format: 1, domains: [{ domid: DOM, type: "hvm", vcpus: 2 }] });
    const jail = mkdtempSync(join(tmpdir(), "xendm-jail-"));
    try {
      const rounds = 6;
      const args = depriv ? ["depriv", String(DOM), String(rounds), jail] : [String(DOM), String(rounds)];
      const child = spawn(CLIENT, args, { env: { ...process.env, ...shimEnv(srv.path) }, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
      const exit = new Promise<number | null>((resolve) => child.on("close", resolve));
      const lines: Json[] = [];
      const results: AccessResult[] = [];
      const g = guestOf(srv.hv);
      let i = 0;
      const next = (): void => {
        const vcpu = i % 2;
        const write = i % 3 === 2;
        const r = g.pio(DOM, vcpu, write ? { port: 0x100, size: 4, dir: "write", data: 0xab00 + i } : { port: 0x102, size: 2, dir: "read" }, (done) => {
          results.push(done);
        });
        i++;
        if (r.status !== "pending") results.push(r);
      };
      for await (const text of createInterface({ input: child.stdout })) {
        const l = JSON.parse(text) as Json;
        lines.push(l);
        if ((l.ready === true || l.vcpu !== undefined) && i < rounds) {
          // the previous access completed (synchronously, inside the device model's notify) before this line
          setTimeout(next, 5);
        }
      }
      expect(await exit, stderr + JSON.stringify(lines)).toBe(0);
      const ready = lines[0]!;
      expect(ready).toMatchObject({ size: 2 * 4096, ready: true }); // 1 + DIV_ROUND_UP(2 vCPUs * 32, 4096) frames
      expect(ready.vp_eport).toEqual([1, 3]); // vCPU 0, (2: the buffered port), vCPU 1
      const reqs = lines.filter((l) => l.vcpu !== undefined);
      expect(reqs).toHaveLength(rounds);
      reqs.forEach((l, k) => {
        const write = k % 3 === 2;
        expect(l).toMatchObject({ vcpu: k % 2, addr: write ? 0x100 : 0x102, size: write ? 4 : 2, dir: write ? 0 : 1, type: 0 });
        if (write) expect(l.data).toBe(0xab00 + k);
      });
      expect(results).toHaveLength(rounds);
      results.forEach((r, k) => {
        expect(r.status).toBe("done");
        if (k % 3 !== 2) expect((r as { value?: bigint }).value).toBe(BigInt((0x11223300 + k) & 0xffff));
      });
      expect(lines.at(-1)).toEqual({ done: rounds });
      expect(srv.server.shared!.used).toBeGreaterThanOrEqual(2);
      if (depriv) {
        expect(ready).toMatchObject({ depriv: 0, uid: 65534 });
        // what the deprivileged device model wrote through its mappings is in the guest's RAM
        const bytes = srv.hv.domain(DOM)!.memory.read(0x20f * 4096, rounds);
        expect([...bytes]).toEqual(Array.from({ length: rounds }, (_, k) => 0xc0 + k));
      }
    } finally {
      await srv.close();
      rmSync(jail, { recursive: true, force: true });
    }
  }, 30_000);
  }
});

suite("guest RAM mapped out of process (xenforeignmemory_map, MMAPBATCH_V2)", () => {
  beforeAll(() => { buildNative(); });

  it("maps RAM gfns over the fake's own pages, fails a hole with EINVAL, and both sides see each other's writes", async () => {
    const srv = await startServer();
    try {
      const mem = srv.hv.domain(DOM)!.memory;
      mem.write(0x101 * 4096, new TextEncoder().encode("guestram"));
      const r = await run(CLIENT, ["ram", String(DOM)], shimEnv(srv.path));
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const [first, again] = jsonLines(r.stdout);
      expect(first).toEqual({ err: [0, 0, -EINVAL, 0], page101: "guestram" });
      expect(again).toEqual({ again: "xendm" });
      expect(new TextDecoder().decode(mem.read(0x100 * 4096 + 8, 5))).toBe("xendm");
      expect(mem.read(0x102 * 4096 + 5, 1)[0]).toBe(0x5a);
    } finally {
      await srv.close();
    }
  });
});
