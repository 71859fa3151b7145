// `"device_model": {"qemu": {...}}`: the scenario's guest gets Debian's unmodified QEMU as its device
// model, started as libxl starts it (src/toolstack) against the scenario's own fake. `ready` is implied
// (QMP cont, then device-model/<domid>/state = running); QEMU's first serial port answers the
// `serial` query.
import type { WorldConfig } from "../hypervisor/world.js";
import { DeviceModelError } from "../toolstack/errors.js";
import { launchQemu, type QemuGuest, type ServedHost } from "../toolstack/qemu.js";
import { ScenarioError } from "./errors.js";
import type { QemuSpec } from "./types.js";
import type { JsonObject } from "./values.js";
import type { XenstoreCore } from "../xenstore/core.js";

/** What live.ts needs from a running device model (a LaunchedProgram has the same). */
export interface LiveDeviceModel {
  readonly running: boolean;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** settles when the process has exited */
  readonly exited: Promise<unknown>;
  lastLines(stream: "stdout" | "stderr", n: number): string[];
  stop(timeoutMs: number): Promise<{ exit: { code: number | null; signal: string | null }; killed: boolean }>;
  close(timeoutMs?: number): Promise<void>;
  serial?(): string;
}

const MB_PAGES = 256;
const FOUR_GIB_GFN = 0x100000;

/** The guest RAM of a domain in MiB, as QEMU's -m counts it (the VGA hole included, MMIO holes not). */
function ramMb(ram: [number, number][]): number {
  let top = 0;
  for (const [, last] of ram) if (last < FOUR_GIB_GFN && last + 1 > top) top = last + 1;
  return top / MB_PAGES;
}

function toNumber(v: unknown): number {
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : Number(String(v));
}

/** The HVM domain QEMU serves: the first listed domain other than 0. */
function guestDomain(world: WorldConfig | JsonObject): { domid: number; vcpus: number; ram: [number, number][] } {
  const d = ((world as WorldConfig).domains ?? []).find((x) => toNumber(x.domid) !== 0 && x.type !== "pv");
  if (d === undefined) throw new ScenarioError("device_model.qemu", "the world has no HVM guest domain for QEMU to serve");
  const ram = (d.ram ?? [[0, 0x9f], [0xc0, 0xffff]]).map(([a, b]): [number, number] => [toNumber(a), toNumber(b)]);
  return { domid: toNumber(d.domid), vcpus: toNumber(d.vcpus ?? d.max_vcpus ?? 2), ram };
}

/** Starts QEMU for the scenario's guest; a QEMU that does not become ready is a DeviceModelError. */
export async function startQemuDeviceModel(
  world: WorldConfig | JsonObject, spec: QemuSpec, host: ServedHost, timeoutMs: number, xenstore?: { core: XenstoreCore; path: string },
): Promise<LiveDeviceModel> {
  const g = guestDomain(world);
  const mb = ramMb(g.ram);
  const memoryMb = spec.memory_mb ?? mb;
  if (memoryMb !== mb) {
    throw new ScenarioError("device_model.qemu.memory_mb", `${memoryMb} disagrees with domain ${g.domid}'s RAM (${mb} MiB below 4 GiB)`);
  }
  const q: QemuGuest = await launchQemu({
    host, ...(xenstore !== undefined ? { xenstore } : {}), domid: g.domid, memoryMb, vcpus: g.vcpus, args: spec.args, vga: spec.vga, xenPlatformPci: spec.machine === "xenfv", startTimeoutMs: timeoutMs,
  });
  const lines = (): string[] => q.dm.lastLines();
  const exited = new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (q.dm.exit !== null) {
        clearInterval(t);
        resolve();
      }
    }, 20);
    t.unref();
  });
  return {
    exited,
    get running() { return q.dm.exit === null; },
    get exitCode() { return q.dm.exit?.code ?? null; },
    stdout: "",
    get stderr() { return lines().join("\n"); },
    lastLines: (stream, n) => (stream === "stderr" ? lines().slice(-n) : []),
    stop: async () => {
      let killed = false;
      try {
        await q.stop();
      } catch (e) {
        if (!(e instanceof DeviceModelError && e.code === "stop-timeout")) throw e;
        killed = true;
      }
      return { exit: q.dm.exit ?? { code: null, signal: null }, killed };
    },
    close: async () => {
      await q.stop().catch(() => undefined);
    },
    serial: () => q.serial(),
  };
}
