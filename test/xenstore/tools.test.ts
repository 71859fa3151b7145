// Debian's xenstore-utils, unmodified, against the server through XENSTORED_PATH.
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { XenstoredServer } from "../../src/xenstore/server.js";

const TOOLS = ["xenstore-read", "xenstore-write", "xenstore-ls", "xenstore-rm", "xenstore-chmod", "xenstore-exists", "xenstore-list", "xenstore-watch"];
const present = TOOLS.every((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0);
if (!present) {
  const msg = "xenstore-utils not installed (apt-get install xenstore-utils; scripts/setup.sh does it)";
  if (process.env.CI === "true") throw new Error(msg);
  console.warn(`SKIPPING the xenstore-utils tests: ${msg}`);
}

interface Run { code: number; out: string; err: string }

describe.skipIf(!present)("xenstore-utils against the xenstored", () => {
  let dir: string;
  let server: XenstoredServer;
  let sock: string;
  let sock1: string;

  const run = (socket: string, tool: string, ...a: string[]): Promise<Run> => new Promise((resolve) => {
    execFile(tool, a, { env: { ...process.env, XENSTORED_PATH: socket }, timeout: 10_000 }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : -1, out, err });
    });
  });
  const xs = (tool: string, ...a: string[]): Promise<Run> => run(sock, tool, ...a);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "xendm-xs-"));
    sock = join(dir, "xenstored.sock");
    sock1 = join(dir, "dom1.sock");
    server = new XenstoredServer();
    await server.listen(sock);
    await server.listen(sock1, { domid: 1 });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("write, read, exists, list, ls", async () => {
    expect((await xs("xenstore-write", "/vm/1/name", "guest", "/vm/1/uuid", "abc")).code).toBe(0);
    expect(await xs("xenstore-read", "/vm/1/name", "/vm/1/uuid")).toMatchObject({ code: 0, out: "guest\nabc\n" });
    expect((await xs("xenstore-exists", "/vm/1")).code).toBe(0);
    expect((await xs("xenstore-exists", "/vm/2")).code).toBe(1);
    expect(await xs("xenstore-list", "/vm/1")).toMatchObject({ code: 0, out: "name\nuuid\n" });
    const ls = await xs("xenstore-ls", "/vm");
    expect(ls.out).toBe('1 = ""\n name = "guest"\n uuid = "abc"\n');
    const r = await xs("xenstore-read", "/vm/none");
    expect(r.code).toBe(1);
    expect(r.err).toContain("couldn't read path /vm/none");
  });

  it("a directory too big for one DIRECTORY reply: libxenstore pages it with DIRECTORY_PART", async () => {
    const names = Array.from({ length: 600 }, (_, i) => `child-${i}`);
    for (let i = 0; i < names.length; i += 100) {
      const a = names.slice(i, i + 100).flatMap((n) => [`/wide/${n}`, ""]);
      expect((await xs("xenstore-write", ...a)).code).toBe(0);
    }
    const list = await xs("xenstore-list", "/wide");
    expect(list.code).toBe(0);
    expect(list.out).toBe(names.join("\n") + "\n");
  });

  it("rm and chmod, with ls -p showing the permissions", async () => {
    await xs("xenstore-write", "/c/a", "1", "/c/b", "2");
    expect((await xs("xenstore-rm", "/c/a")).code).toBe(0);
    expect((await xs("xenstore-list", "/c")).out).toBe("b\n");
    expect((await xs("xenstore-chmod", "/c/b", "n0", "r1")).code).toBe(0);
    expect((await xs("xenstore-ls", "-p", "/c")).out).toMatch(/^b = "2" [ .]*\(n0,r1\)\n$/);
    expect((await xs("xenstore-chmod", "-r", "/c", "b0", "w1")).code).toBe(0);
    expect((await xs("xenstore-ls", "-p", "/c")).out).toMatch(/\(b0,w1\)/);
    const bad = await xs("xenstore-chmod", "/c/b", "x1");
    expect(bad.code).not.toBe(0);
  });

  it("a second caller domain on its own socket gets that domain's rights and relative paths", async () => {
    await xs("xenstore-write", "/local/domain/1/name", "guest1", "/secret", "s");
    await xs("xenstore-chmod", "/local/domain/1", "n1");
    await xs("xenstore-chmod", "/local/domain/1/name", "n1");
    await xs("xenstore-chmod", "/secret", "n0");
    expect(await run(sock1, "xenstore-read", "name")).toMatchObject({ code: 0, out: "guest1\n" });
    expect((await run(sock1, "xenstore-write", "device-model/state", "running")).code).toBe(0);
    expect((await xs("xenstore-read", "/local/domain/1/device-model/state")).out).toBe("running\n");
    const denied = await run(sock1, "xenstore-read", "/secret");
    expect(denied.code).toBe(1);
    expect((await run(sock1, "xenstore-write", "/secret", "x")).code).toBe(1);
    expect((await xs("xenstore-read", "/secret")).out).toBe("s\n");
  });

  it("xenstore-watch prints the registration event and each change, for the node and below", async () => {
    await xs("xenstore-write", "/watched/x", "0");
    const child = spawn("xenstore-watch", ["-n", "4", "/watched"], { env: { ...process.env, XENSTORED_PATH: sock } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const done = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const until = async (s: string): Promise<void> => {
      for (let i = 0; i < 200 && !out.includes(s); i++) await new Promise((r) => setTimeout(r, 25));
    };
    await until("/watched\n");
    await xs("xenstore-write", "/watched/x", "1");
    await until("/watched/x\n");
    await xs("xenstore-write", "/unrelated", "1");
    await xs("xenstore-write", "/watched/y/z", "1");
    await until("/watched/y/z\n");
    await xs("xenstore-rm", "/watched");
    const timer = setTimeout(() => child.kill(), 10_000);
    const code = await done;
    clearTimeout(timer);
    expect({ out, err, code }).toEqual({ out: "/watched\n/watched/x\n/watched/y/z\n/watched\n", err: "", code: 0 });
  });
});
