// The QMP client against a scripted QMP peer (timeouts, errors, garbage, a peer that goes away) and
// against the real QEMU binary (QMP works without Xen with `-machine none,accel=qtest`).
import { afterEach, describe, expect, it } from "vitest";
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { QmpClient } from "../../src/toolstack/qmp.js";
import { QmpError } from "../../src/toolstack/errors.js";
import { QEMU_XEN_BINARY } from "../../src/toolstack/argv.js";

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sockPath(): string {
  const d = mkdtempSync(join(tmpdir(), "xendm-qmp-"));
  dirs.push(d);
  return join(d, "qmp");
}

type Handler = (msg: { execute: string; id?: unknown; arguments?: unknown }, send: (o: unknown) => void, c: Socket) => void;

function peer(path: string, handler: Handler, greet = true): Promise<void> {
  const s = createServer((c) => {
    c.setEncoding("utf8");
    const send = (o: unknown): void => {
      c.write(JSON.stringify(o) + "\n");
    };
    if (greet) send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 } }, capabilities: [] } });
    let buf = "";
    c.on("data", (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const m = JSON.parse(buf.slice(0, nl)) as { execute: string; id?: unknown };
        buf = buf.slice(nl + 1);
        if (m.execute === "qmp_capabilities") send({ return: {}, id: m.id });
        else handler(m, send, c);
      }
    });
  });
  servers.push(s);
  return new Promise((r) => s.listen(path, () => { r(); }));
}

async function rejection(p: Promise<unknown>): Promise<QmpError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(QmpError);
    return e as QmpError;
  }
  throw new Error("expected a rejection");
}

describe("QmpClient against a scripted peer", () => {
  it("negotiates, runs commands with ids, keeps events apart", async () => {
    const path = sockPath();
    const seen: unknown[] = [];
    await peer(path, (m, send) => {
      seen.push(m);
      if (m.execute === "query-status") send({ return: { status: "prelaunch", running: false }, id: m.id });
      if (m.execute === "cont") {
        send({ event: "RESUME", timestamp: { seconds: 1, microseconds: 2 } });
        send({ return: {}, id: m.id });
      }
    });
    const c = await QmpClient.connect(path);
    expect(c.version).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(await c.queryStatus()).toEqual({ status: "prelaunch", running: false });
    const ev = c.waitEvent("RESUME");
    await c.cont();
    expect((await ev).event).toBe("RESUME");
    expect(c.events().map((e) => e.event)).toEqual(["RESUME"]);
    expect(seen).toEqual([
      { execute: "query-status", id: 2 },
      { execute: "cont", id: 3 },
    ]);
    c.close();
  });

  it("runs concurrent commands one at a time, answers matched by id", async () => {
    const path = sockPath();
    await peer(path, (m, send) => {
      // answer late, so a second command would overtake if it were sent early
      setTimeout(() => { send({ return: { n: m.execute }, id: m.id }); }, 20);
    });
    const c = await QmpClient.connect(path);
    const [a, b] = await Promise.all([c.execute("a"), c.execute("b")]);
    expect(a).toEqual({ n: "a" });
    expect(b).toEqual({ n: "b" });
    c.close();
  });

  it("an error answer is command-failed with QEMU's class", async () => {
    const path = sockPath();
    await peer(path, (m, send) => {
      send({ error: { class: "CommandNotFound", desc: "The command nope has not been found" }, id: m.id });
    });
    const c = await QmpClient.connect(path);
    const e = await rejection(c.execute("nope"));
    expect(e.code).toBe("command-failed");
    expect(e.errorClass).toBe("CommandNotFound");
    expect(e.command).toBe("nope");
    c.close();
  });

  it("a command with no answer times out within its bound, and the client still works after", async () => {
    const path = sockPath();
    await peer(path, (m, send) => {
      if (m.execute !== "hang") send({ return: {}, id: m.id });
    });
    const c = await QmpClient.connect(path, { commandTimeoutMs: 100 });
    const t0 = Date.now();
    const e = await rejection(c.execute("hang"));
    expect(e.code).toBe("timeout");
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await c.execute("cont")).toEqual({});
    c.close();
  });

  it("query-status without a status is a protocol error", async () => {
    const path = sockPath();
    await peer(path, (m, send) => { send({ return: { running: true }, id: m.id }); });
    const c = await QmpClient.connect(path);
    expect((await rejection(c.queryStatus())).code).toBe("protocol");
    c.close();
  });

  it("a peer that closes fails the pending command with closed; quit treats that as done", async () => {
    const path = sockPath();
    await peer(path, (m, _send, sock) => {
      if (m.execute === "quit" || m.execute === "die") sock.destroy();
    });
    const c = await QmpClient.connect(path);
    expect((await rejection(c.execute("die"))).code).toBe("closed");
    expect((await rejection(c.execute("after"))).code).toBe("closed");
    const c2 = await QmpClient.connect(path);
    await c2.quit();
    expect(c2.isClosed).toBe(true);
  });

  it("garbage and a missing greeting are refused within the bound", async () => {
    const p1 = sockPath();
    const s = createServer((c) => { c.write("hello there\n"); });
    servers.push(s);
    await new Promise<void>((r) => s.listen(p1, () => { r(); }));
    expect((await rejection(QmpClient.connect(p1))).code).toBe("protocol");
    const p2 = sockPath();
    await peer(p2, () => undefined, false);
    const t0 = Date.now();
    const e = await rejection(QmpClient.connect(p2, { commandTimeoutMs: 100 }));
    expect(e.code).toBe("timeout");
    expect(e.command).toBe("greeting");
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("an oversized line is a protocol error, not unbounded buffering", async () => {
    const path = sockPath();
    await peer(path, (_m, _send, sock) => { sock.write("x".repeat((1 << 20) + 10)); });
    const c = await QmpClient.connect(path);
    expect((await rejection(c.execute("big"))).code).toBe("protocol");
  });

  it("retries while the socket does not exist, then gives up at the bound", async () => {
    const path = sockPath();
    setTimeout(() => { void peer(path, (m, send) => { send({ return: {}, id: m.id }); }); }, 150);
    const c = await QmpClient.connect(path, { connectTimeoutMs: 2000 });
    c.close();
    const t0 = Date.now();
    const e = await rejection(QmpClient.connect(sockPath(), { connectTimeoutMs: 150 }));
    expect(e.code).toBe("connect-timeout");
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

const haveQemu = existsSync(QEMU_XEN_BINARY);
if (!haveQemu) {
  console.warn(`\n*** QMP tests against real QEMU SKIPPED: ${QEMU_XEN_BINARY} missing (apt-get install qemu-system-xen) ***\n`);
  if (process.env.CI === "true") throw new Error(`${QEMU_XEN_BINARY} is required under CI=true`);
}

describe.skipIf(!haveQemu)("QmpClient against the real QEMU (no Xen: -machine none,accel=qtest)", () => {
  it("qmp_capabilities, query-status prelaunch, cont, running, system_reset, quit", async () => {
    const path = sockPath();
    const q = spawn(QEMU_XEN_BINARY, [
      "-machine", "none,accel=qtest", "-nodefaults", "-no-user-config", "-display", "none", "-S",
      "-chardev", `socket,id=libxl-cmd,path=${path},server=on,wait=off`, "-mon", "chardev=libxl-cmd,mode=control",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<number | null>((r) => q.on("exit", (code) => { r(code); }));
    try {
      const c = await QmpClient.connect(path, { connectTimeoutMs: 10_000 });
      expect(c.version?.major).toBe(7);
      expect(await c.queryStatus()).toEqual({ status: "prelaunch", running: false });
      await c.cont();
      expect(await c.queryStatus()).toEqual({ status: "running", running: true });
      const reset = c.waitEvent("RESET");
      await c.systemReset();
      expect((await reset).data).toMatchObject({ guest: false, reason: "host-qmp-system-reset" });
      const e = await rejection(c.execute("no-such-command"));
      expect(e.errorClass).toBe("CommandNotFound");
      await c.quit();
      expect(await exited).toBe(0);
    } finally {
      q.kill("SIGKILL");
    }
  });
});
