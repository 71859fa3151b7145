// `xendm serve` edges: an over-long socket path, a socket file replaced behind the server's back,
// the readiness descriptor.
import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createFakeHost } from "../../src/transport/fake.js";
import { SUN_PATH_MAX, XendmServer } from "../../src/transport/server.js";

const ROOT = join(import.meta.dirname, "..", "..");

function serve(args: string[], extraFd = false): { exit: Promise<number | null>; stderr: () => string; ready: Promise<string>; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", ...args], {
    cwd: ROOT, stdio: extraFd ? ["ignore", "ignore", "pipe", "pipe"] : ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => { err += d.toString(); });
  const ready = new Promise<string>((resolve) => {
    let got = "";
    const s = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
    if (!s) { resolve(""); return; }
    s.on("data", (d: Buffer) => { got += d.toString(); });
    s.on("end", () => { resolve(got); });
  });
  const exit = new Promise<number | null>((resolve) => { child.once("exit", (code) => { resolve(code); }); });
  return { exit, stderr: () => err, ready, kill: (sig) => child.kill(sig) };
}

describe("xendm serve edges", () => {
  it("refuses a socket path longer than a Unix socket address holds (exit 2), never truncating it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-edge-"));
    const long = join(dir, "s".repeat(SUN_PATH_MAX + 1 - dir.length - 1));
    expect(Buffer.byteLength(long)).toBe(SUN_PATH_MAX + 1);
    const p = serve(["--socket", long]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toMatch(/108 bytes, longer than the 107/);
    expect(existsSync(long.slice(0, SUN_PATH_MAX))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it("signals readiness on --ready-fd once the socket accepts connections", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-edge-"));
    const sock = join(dir, "s.sock");
    const p = serve(["--socket", sock, "--ready-fd", "3"], true);
    expect(await p.ready).toBe("ready\n");
    expect(lstatSync(sock).isSocket()).toBe(true);
    p.kill("SIGTERM");
    expect(await p.exit).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("on close unlinks only the socket it created, not a file that replaced it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xendm-edge-"));
    const sock = join(dir, "s.sock");
    const a = new XendmServer({ device: createFakeHost().device });
    await a.listen(sock);
    renameSync(sock, join(dir, "moved.sock")); // someone else takes the path
    const b = new XendmServer({ device: createFakeHost().device });
    await b.listen(sock);
    await a.close();
    expect(lstatSync(sock).isSocket()).toBe(true); // b's socket is still there
    await b.close();
    expect(existsSync(sock)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
