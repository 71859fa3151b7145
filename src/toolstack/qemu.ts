// An HVM guest with Debian's unmodified QEMU as its device model, against the fake: a fake host behind
// `xendm serve`'s socket, a xenstored, the domain's xenstore layout written as libxl writes it, and
// QEMU started under the LD_PRELOAD shim with libxl's command line, paused, then `cont` and
// device-model/<domid>/state = running.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { guestOf, type GuestEmulator } from "../hypervisor/emulate.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { PrivcmdDevice } from "../privcmd/index.js";
import type { DomainConfig } from "../hypervisor/world.js";
import { createFakeHost } from "../transport/fake.js";
import { XendmServer, type ServerOptions } from "../transport/server.js";
import { XenstoredServer } from "../xenstore/server.js";
import type { XenstoreCore } from "../xenstore/core.js";
import { QEMU_XEN_BINARY, buildDeviceModelArgs } from "./argv.js";
import { resolveGuest } from "./config.js";
import { hvmDomainLayout, writeLayout } from "./layout.js";
import { DeviceModelProcess } from "./supervisor.js";
import { XsDirectClient } from "./xs-client.js";
import type { QmpClient } from "./qmp.js";

/** native/build/libxendm-shim.so of this package */
export function defaultShimPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, "native", "build", "libxendm-shim.so");
    try {
      statSync(p);
      return p;
    } catch {
      dir = dirname(dir);
    }
  }
  return join(process.cwd(), "native", "build", "libxendm-shim.so");
}

/** A fake host to serve instead of a new one (a scenario's): its domain must exist. */
export interface ServedHost {
  device: PrivcmdDevice;
  hv: Hypervisor;
}

export interface QemuLaunchOptions {
  /** serve this host (its world as it is) instead of making one for the guest */
  host?: ServedHost;
  /** use this xenstored (already listening at `path`) instead of starting one */
  xenstore?: { core: XenstoreCore; path: string };
  /** u.hvm.xen_platform_pci (default true: machine xenfv; false: pc,accel=xen) */
  xenPlatformPci?: boolean;
  domid?: number;
  /** guest RAM in MiB (default 64); QEMU's -m */
  memoryMb?: number;
  vcpus?: number;
  /** the emulated VGA (default cirrus, as libxl; its VRAM is populated through multicall) */
  vga?: "cirrus" | "std" | "none";
  /** appended to libxl's arguments, before -machine */
  args?: readonly string[];
  binary?: string;
  shim?: string;
  /** more world keys for the guest's domain (emulation_flags, ...) */
  domain?: Partial<DomainConfig>;
  /** bound on QEMU's start, spawn to running (default 30 s) */
  startTimeoutMs?: number;
  /** added to QEMU's environment */
  env?: Record<string, string>;
  /** one line per privcmd/evtchn connection event of the server (serve -v) */
  log?: (line: string) => void;
  /** sees every DM_OP and HYPERCALL QEMU makes (see transport/connection.ts) */
  observer?: ServerOptions["observer"];
}

/** Serial output kept and returned at most (the tail). */
const MAX_SERIAL = 1 << 20;

export interface QemuGuest {
  readonly domid: number;
  readonly hv: Hypervisor;
  readonly guest: GuestEmulator;
  readonly dm: DeviceModelProcess;
  readonly qmp: QmpClient;
  readonly xenstore: XsDirectClient;
  readonly dir: string;
  /** QEMU's first serial port as written so far (the last MiB) */
  serial(): string;
  /** Clean shutdown (QMP quit), then the servers and the directory go. */
  stop(): Promise<void>;
}

// xg_dom_x86.c: the special pages end at 0xff000 (X86_HVM_END_SPECIAL_REGION), 8 of them
// (X86_HVM_NR_SPECIAL_PAGES), and the ioreq server pages (NR_IOREQ_SERVER_PAGES) sit just below; the
// domain builder populates both as RAM
const SPECIAL_END = 0xff000;
const NR_SPECIAL_PAGES = 8;
const NR_IOREQ_SERVER_PAGES = 8;
const IOREQ_SERVER_PFN = SPECIAL_END - NR_SPECIAL_PAGES - NR_IOREQ_SERVER_PAGES;

/** RAM as gfn ranges for `memoryMb`: the low 640 KiB, then from 0xc0 on (the VGA hole skipped), then
 * the ioreq server and special pages. */
function ramOf(memoryMb: number): [number, number][] {
  return [[0, 0x9f], [0xc0, memoryMb * 256 - 1], [IOREQ_SERVER_PFN, SPECIAL_END - 1]];
}

export async function launchQemu(opts: QemuLaunchOptions = {}): Promise<QemuGuest> {
  const domid = opts.domid ?? 1;
  const memoryMb = opts.memoryMb ?? 64;
  const vcpus = opts.vcpus ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "xendm-qemu-"));
  const sock = join(dir, "privcmd.sock");
  const xsSock = join(dir, "xenstored.sock");
  const serialPath = join(dir, "serial0");
  const world = {
    format: 1,
    domains: [{
      domid, type: "hvm" as const, vcpus, ram: ramOf(memoryMb),
      ioreq_server_pfn: IOREQ_SERVER_PFN, nr_ioreq_server_pages: NR_IOREQ_SERVER_PAGES, ...opts.domain,
    }],
  };
  const { hv, device } = opts.host ?? createFakeHost(world);
  // with the hypervisor the server also offers /dev/xen/evtchn over its event channels
  const serverOpts = { device, hv, ...(opts.log ? { log: opts.log } : {}), ...(opts.observer ? { observer: opts.observer } : {}) };
  const server = new XendmServer(serverOpts);
  const xsd = opts.xenstore === undefined ? new XenstoredServer() : null;
  const xsCore = opts.xenstore?.core ?? xsd!.core;
  const xsPath = opts.xenstore?.path ?? xsSock;
  const cleanup = async (): Promise<void> => {
    await server.close().catch(() => undefined);
    await xsd?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  let dm: DeviceModelProcess;
  let xs: XsDirectClient;
  try {
    await server.listen(sock);
    await xsd?.listen(xsSock);
    xs = new XsDirectClient(xsCore);
    const g = resolveGuest({
      domid, memoryMb, vcpus, runDir: dir, serial: [`file:${serialPath}`], extra: opts.args ?? [],
      ...(opts.vga ? { vga: opts.vga } : {}), ...(opts.xenPlatformPci !== undefined ? { xenPlatformPci: opts.xenPlatformPci } : {}),
    });
    await writeLayout(xs, hvmDomainLayout(g));
    const cmd = buildDeviceModelArgs(g, opts.binary ?? QEMU_XEN_BINARY);
    dm = await DeviceModelProcess.start({
      domid,
      argv: cmd.argv,
      env: {
        ...cmd.env,
        LD_PRELOAD: opts.shim ?? defaultShimPath(),
        XENDM_SOCKET: sock,
        XENSTORED_PATH: xsPath,
        ...opts.env,
      },
      qmpPath: cmd.qmpPath,
      paused: g.paused,
      store: xs,
      startTimeoutMs: opts.startTimeoutMs ?? 30_000,
    });
  } catch (e) {
    await cleanup();
    throw e;
  }
  const started = dm;
  return {
    domid,
    hv,
    guest: guestOf(hv),
    dm: started,
    qmp: started.qmp,
    xenstore: xs,
    dir,
    serial: () => readTail(serialPath, MAX_SERIAL),
    stop: async () => {
      try {
        await started.stop();
      } finally {
        xs.close();
        await cleanup();
      }
    },
  };
}

function readTail(path: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return "";
  }
  try {
    const size = statSync(path).size;
    const n = Math.min(size, max);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return buf.toString("latin1");
  } finally {
    closeSync(fd);
  }
}

