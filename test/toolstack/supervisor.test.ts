// The device model supervisor with a stand-in process (fake-qemu.ts) for every way a start can go,
// and with the real QEMU binary for start under QMP and a clean quit.
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeviceModelProcess, type SupervisorStore } from "../../src/toolstack/supervisor.js";
import { DeviceModelError } from "../../src/toolstack/errors.js";
import { buildDeviceModelArgs, QEMU_XEN_BINARY } from "../../src/toolstack/argv.js";
import { deviceModelStatePath } from "../../src/toolstack/layout.js";

const FAKE = fileURLToPath(new URL("./fake-qemu.ts", import.meta.url));
const dirs: string[] = [];
const procs: DeviceModelProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill("SIGKILL");
    await p.waitExit(2000).catch(() => undefined);
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "xendm-dm-"));
  dirs.push(d);
  return d;
}

/** A store whose device-model state node is the file the stand-in writes. */
function fileStore(stateFile: string, domid: number): SupervisorStore & { nodes: Map<string, string>; removed: string[] } {
  const nodes = new Map<string, string>();
  const removed: string[] = [];
  return {
    nodes,
    removed,
    read(path) {
      if (path === deviceModelStatePath(domid)) {
        return Promise.resolve(existsSync(stateFile) ? readFileSync(stateFile, "utf8") : null);
      }
      return Promise.resolve(nodes.get(path) ?? null);
    },
    write(path, value) {
      nodes.set(path, value);
      return Promise.resolve();
    },
    rm(path) {
      removed.push(path);
      return Promise.resolve();
    },
  };
}

function fakeSpawn(mode: string, extra: { startTimeoutMs?: number; commandTimeoutMs?: number } = {}) {
  const dir = tmp();
  const stateFile = join(dir, "state");
  const cmd = buildDeviceModelArgs({ domid: 7, memoryMb: 64, runDir: dir }, process.execPath);
  const argv = [process.execPath, "--import", "tsx", FAKE, ...cmd.argv.slice(1)];
  const store = fileStore(stateFile, 7);
  return {
    store,
    opts: {
      domid: 7,
      argv,
      env: { ...cmd.env, FAKE_QEMU_MODE: mode, FAKE_QEMU_STATE_FILE: stateFile },
      qmpPath: cmd.qmpPath,
      paused: true,
      store,
      ...extra,
    },
  };
}

async function startFails(opts: Parameters<typeof DeviceModelProcess.start>[0]): Promise<DeviceModelError> {
  try {
    procs.push(await DeviceModelProcess.start(opts));
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceModelError);
    return e as DeviceModelError;
  }
  throw new Error("expected the start to fail");
}

describe("DeviceModelProcess with a stand-in", () => {
  it("starts paused, sees prelaunch, sends cont, waits for state=running, records the pid; quit stops it", async () => {
    const { opts, store } = fakeSpawn("ok");
    const dm = await DeviceModelProcess.start(opts);
    procs.push(dm);
    expect(store.nodes.get("/local/domain/7/image/device-model-pid")).toBe(String(dm.pid));
    expect((await dm.qmp.queryStatus()).status).toBe("running");
    expect(dm.qmp.events().map((e) => e.event)).toContain("RESUME");
    expect(dm.startupMs).toBeGreaterThan(0);
    expect(dm.lastLines()).toContain("fake-qemu: mode ok");
    expect(await dm.stop()).toEqual({ code: 0, signal: null });
  });

  it("waits for a QMP socket that appears late", async () => {
    const { opts } = fakeSpawn("late");
    const dm = await DeviceModelProcess.start(opts);
    procs.push(dm);
    await dm.stop();
  });

  it("a process that exits during startup is 'exited' with its exit status and last lines", async () => {
    const { opts } = fakeSpawn("exit");
    const e = await startFails(opts);
    expect(e.code).toBe("exited");
    expect(e.exit).toEqual({ code: 1, signal: null });
    expect(e.message).toContain("failed startup with non-zero exit status 1");
    expect(e.lastLines).toContain("xen-qemu-system-i386: failed to initialize xen: Operation not permitted");
    expect(e.message).toContain("failed to initialize xen");
  });

  it("a process that never opens QMP is a start-timeout within the bound, and is killed", async () => {
    const { opts } = fakeSpawn("silent", { startTimeoutMs: 1500 });
    const t0 = Date.now();
    const e = await startFails(opts);
    expect(e.code).toBe("start-timeout");
    expect(e.message).toContain("startup timed out after 1500 ms");
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("a process that never writes state=running is a start-timeout", async () => {
    const { opts } = fakeSpawn("no-state", { startTimeoutMs: 2500 });
    const e = await startFails(opts);
    expect(e.code).toBe("start-timeout");
  });

  it("a status other than prelaunch is not-ready (libxl: Unexpected QEMU status)", async () => {
    const { opts } = fakeSpawn("wrong-status");
    const e = await startFails(opts);
    expect(e.code).toBe("not-ready");
    expect(e.message).toContain("unexpected QEMU status: paused");
  });

  it("a binary that does not exist is spawn-failed", async () => {
    const { opts } = fakeSpawn("ok");
    const e = await startFails({ ...opts, argv: ["/nonexistent/qemu", "-x"] });
    expect(e.code).toBe("spawn-failed");
    expect(e.message).toContain("/nonexistent/qemu");
  });

  it("destroy removes device-model/<domid> and sends SIGHUP; one that ignores it is killed at the bound", async () => {
    const { opts, store } = fakeSpawn("ok");
    const dm = await DeviceModelProcess.start(opts);
    procs.push(dm);
    expect(await dm.destroy()).toEqual({ code: null, signal: "SIGHUP" });
    expect(store.removed).toContain("/local/domain/0/device-model/7");

    const stubborn = fakeSpawn("ignore-signals", { commandTimeoutMs: 300 });
    const dm2 = await DeviceModelProcess.start(stubborn.opts);
    procs.push(dm2);
    const t0 = Date.now();
    expect(await dm2.destroy()).toEqual({ code: null, signal: "SIGKILL" });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("stop on a process that ignores quit kills it and says stop-timeout", async () => {
    const { opts } = fakeSpawn("ignore-signals", { commandTimeoutMs: 300 });
    const dm = await DeviceModelProcess.start(opts);
    procs.push(dm);
    await expect(dm.stop()).rejects.toMatchObject({ code: "stop-timeout" });
    expect(dm.exit?.signal).toBe("SIGKILL");
  });

  it("a death after startup is reported once through onDeath with the last lines", async () => {
    const { opts } = fakeSpawn("ok");
    const dm = await DeviceModelProcess.start(opts);
    procs.push(dm);
    const death = new Promise<{ signal: string | null; lines: readonly string[] }>((r) => {
      dm.onDeath = (e, lines) => { r({ signal: e.signal, lines }); };
    });
    dm.kill("SIGKILL");
    const d = await death;
    expect(d.signal).toBe("SIGKILL");
    expect(d.lines).toContain("fake-qemu: mode ok");
  });
});

const haveQemu = existsSync(QEMU_XEN_BINARY);
if (!haveQemu) {
  console.warn(`\n*** supervisor tests against real QEMU SKIPPED: ${QEMU_XEN_BINARY} missing ***\n`);
  if (process.env.CI === "true") throw new Error(`${QEMU_XEN_BINARY} is required under CI=true`);
}

describe.skipIf(!haveQemu)("DeviceModelProcess with the real QEMU", () => {
  it("without Xen, libxl's argv fails fast with QEMU's own message", async () => {
    const dir = tmp();
    const cmd = buildDeviceModelArgs({ domid: 9, memoryMb: 64, runDir: dir });
    const e = await startFails({ domid: 9, argv: cmd.argv, env: { ...cmd.env, LD_PRELOAD: "" }, qmpPath: cmd.qmpPath, paused: true, startTimeoutMs: 20_000 });
    expect(e.code).toBe("exited");
    expect(e.lastLines.join("\n")).toMatch(/xen/i);
  });

  it("QMP-only QEMU (qtest) starts paused, runs after cont, and quits cleanly", async () => {
    const dir = tmp();
    const qmp = join(dir, "qmp");
    const dm = await DeviceModelProcess.start({
      domid: 9,
      argv: [QEMU_XEN_BINARY, "-machine", "none,accel=qtest", "-nodefaults", "-no-user-config", "-display", "none", "-S",
        "-chardev", `socket,id=libxl-cmd,path=${qmp},server=on,wait=off`, "-mon", "chardev=libxl-cmd,mode=control"],
      qmpPath: qmp,
      paused: true,
    });
    procs.push(dm);
    expect((await dm.qmp.queryStatus()).running).toBe(true);
    expect(await dm.stop()).toEqual({ code: 0, signal: null });
  });
});
