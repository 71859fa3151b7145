// `xendm serve --xenstore PATH` beside the fake, with a world file's domains and `xenstore` key, read
// by Debian's xenstore tools and by `xendm xenstore`.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const haveTools = spawnSync("sh", ["-c", "command -v xenstore-read"]).status === 0;
if (!haveTools) {
  if (process.env.CI === "true") throw new Error("xenstore-utils not installed");
  console.warn("SKIPPING xendm serve --xenstore: xenstore-utils not installed");
}

interface Run { code: number; out: string; err: string }
const run = (cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> => new Promise((resolve) => {
  execFile(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 }, (e, out, err) => {
    resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : -1, out, err });
  });
});
const xendm = (...a: string[]): Promise<Run> => run(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...a]);

describe.skipIf(!haveTools)("xendm serve --xenstore", () => {
  let dir: string;
  let xs: string;
  let child: ReturnType<typeof spawn>;
  let exited: Promise<number | null>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "xendm-xs-serve-"));
    xs = join(dir, "xs.sock");
    const world = join(dir, "world.json");
    writeFileSync(world, JSON.stringify({
      format: 1,
      domains: [{ domid: 3, type: "hvm", vcpus: 2 }],
      xenstore: { "/local/domain/3/platform/acpi": "1", "/seeded": { value: "v", perms: ["n0", "r3"] } },
      steps: [],
    }));
    child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", "--socket", join(dir, "pc.sock"), "--world", world, "--xenstore", xs], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    exited = new Promise((resolve) => child.once("exit", resolve));
    let err = "";
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`serve did not start: ${err}`)); }, 60_000);
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        if (err.includes("xenstored listening on")) { clearTimeout(t); resolve(); }
      });
      child.once("exit", () => { clearTimeout(t); reject(new Error(`serve exited: ${err}`)); });
    });
  });
  afterAll(async () => {
    child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it("introduces the world's domains with the tree libxl makes, and writes the seed", async () => {
    expect((await run("xenstore-read", ["/local/domain/3/domid", "/local/domain/3/platform/acpi"], { XENSTORED_PATH: xs })).out).toBe("3\n1\n");
    const perms = await run("xenstore-ls", ["-p", "/local/domain"], { XENSTORED_PATH: xs });
    expect(perms.out.split("\n")[0]).toMatch(/^3 = "" [ .]*\(n0,r3\)$/);
    // the guest's own socket: its relative paths, its rights
    const guest = { XENSTORED_PATH: `${xs}.d3` };
    expect((await run("xenstore-read", ["name"], guest)).out).toBe("domain-3\n");
    expect((await run("xenstore-read", ["/seeded"], guest)).out).toBe("v\n");
    expect((await run("xenstore-write", ["data/x", "1"], guest)).code).toBe(0);
    expect((await run("xenstore-write", ["name", "evil"], guest)).code).toBe(1);
  });

  it("xendm xenstore ls -R -p lists the subtree with full paths; read, write, rm; errors exit 1", async () => {
    const ls = await xendm("xenstore", "ls", "-R", "-p", "--socket", xs, "/local/domain/3/cpu");
    expect(ls.out).toBe([
      '/local/domain/3/cpu = ""  (n0,r3)',
      '/local/domain/3/cpu/0 = ""  (n0,r3)',
      '/local/domain/3/cpu/0/availability = "online"  (n0,r3)',
      '/local/domain/3/cpu/1 = ""  (n0,r3)',
      '/local/domain/3/cpu/1/availability = "online"  (n0,r3)',
      "",
    ].join("\n"));
    expect((await xendm("xenstore", "write", "--socket", xs, "/cli/k", "val")).code).toBe(0);
    expect((await xendm("xenstore", "read", "--socket", xs, "/cli/k")).out).toBe("val\n");
    expect((await xendm("xenstore", "ls", "--socket", xs, "/cli")).out).toBe('k = "val"\n');
    expect((await xendm("xenstore", "rm", "--socket", xs, "/cli")).code).toBe(0);
    const missing = await xendm("xenstore", "read", "--socket", xs, "/cli/k");
    expect(missing.code).toBe(1);
    expect(missing.err).toBe("xendm xenstore: read /cli/k: ENOENT\n");
    expect((await xendm("xenstore", "frob", "--socket", xs)).code).toBe(2);
    const { XsSocketClient } = await import("../../src/xenstore/client.js");
    const c = await XsSocketClient.open(xs);
    try {
      expect(await c.readOrNull("/cli/k")).toBeNull();
      await c.mkdir("/cli2/d");
      await c.setPerms("/cli2/d", ["n0", "r3"]);
      expect(await c.getPerms("/cli2/d")).toEqual(["n0", "r3"]);
      await expect(c.read("/cli2/none")).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      c.close();
    }
  });
});

describe.skipIf(!haveTools)("xendm exec --xenstore", () => {
  it("runs the program with XENSTORED_PATH pointing at a private xenstored over the fake's domains", async () => {
    const r = await xendm("exec", "--xenstore", "--domain", "4", "--", "sh", "-c", 'xenstore-read /local/domain/4/domid && XENSTORED_PATH="$XENSTORED_PATH.d4" xenstore-read name && test -S "$XENSTORED_PATH"');
    expect(r).toMatchObject({ code: 0, out: "4\ndomain-4\n" });
    const gone = await xendm("exec", "--xenstore", "--", "sh", "-c", 'echo "$XENSTORED_PATH"');
    expect(gone.code).toBe(0);
    expect(existsSync(gone.out.trim())).toBe(false); // removed with its directory when the program ended
  });
});
