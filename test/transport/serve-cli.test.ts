// `xendm serve` as a process: socket mode, world from a scenario file, clean shutdown on signals.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DeviceModel } from "../../src/devicemodel/index.js";
import { SocketTransportFactory } from "../../src/transport/socket.js";

const ROOT = join(import.meta.dirname, "..", "..");

function start(args: string[]): { child: ChildProcess; ready: Promise<string>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  const ready = new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.includes("listening on")) resolve(err);
    });
    child.once("exit", () => { reject(new Error(`serve exited: ${err}`)); });
  });
  ready.catch(() => undefined); // awaited by the callers that expect a start
  const exit = new Promise<number | null>((resolve) => { child.once("exit", (code) => { resolve(code); }); });
  return { child, ready, exit };
}

describe("xendm serve (process)", () => {
  it("serves a --world file, 0600 socket, refuses a second server, unlinks the socket on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-serve-"));
    const world = join(dir, "world.json");
    writeFileSync(world, JSON.stringify({ format: 1, domains: [{ domid: 5, type: "hvm", vcpus: 6 }], steps: [], note: "a scenario file" }));
    for (const sig of ["SIGTERM"] as const) {
      const sock = join(dir, `${sig}.sock`);
      const p = start(["--socket", sock, "--world", world]);
      await p.ready;
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      const dm = await DeviceModel.open(new SocketTransportFactory(sock));
      expect(await dm.nrVcpus(5)).toBe(6);
      await expect(dm.nrVcpus(1)).rejects.toMatchObject({ errnoName: "ESRCH" });
      // A second server on the same live socket is refused.
      const second = start(["--socket", sock, "--domain", "1"]);
      expect(await second.exit).toBe(2);
      p.child.kill(sig);
      expect(await p.exit).toBe(0);
      expect(existsSync(sock)).toBe(false);
    }
  });

  it("replaces a stale socket, takes --domain flags, stops on SIGINT", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-serve-"));
    const sock = join(dir, "s.sock");
    const first = start(["--socket", sock, "--domain", "3"]);
    await first.ready;
    first.child.kill("SIGKILL"); // leaves the socket file behind
    await first.exit;
    expect(existsSync(sock)).toBe(true);
    const p = start(["--socket", sock, "--domain", "3", "--domain", "4"]);
    await p.ready;
    const dm = await DeviceModel.open(new SocketTransportFactory(sock));
    expect(await dm.nrVcpus(4)).toBe(2);
    await dm.close();
    p.child.kill("SIGINT");
    expect(await p.exit).toBe(0);
    expect(existsSync(sock)).toBe(false);
  });
});
