// A guest's accesses as promises: port I/O, MMIO and PCI configuration through 0xCF8/0xCFC, each
// started on a vCPU of the fake and settled when the device model has answered (its notification
// wakes the vCPU), within a bound. A device model that died leaves the vCPU blocked, as on Xen: the
// access then fails naming it, and the vCPU stays blocked.
import type { AccessResult, GuestEmulator } from "../hypervisor/emulate.js";
import type { PciConfig } from "./lspci.js";

export class GuestIoError extends Error {
  constructor(
    readonly code: "timeout" | "device-model-died" | "unhandled",
    /** what the access was ("inl 0xcfc", "mmio read 0xf0000000/4") */
    readonly access: string,
    message: string,
  ) {
    super(message);
    this.name = "GuestIoError";
  }
}

export interface GuestIoOptions {
  vcpu?: number;
  /** bound on one access (default 5 s) */
  timeoutMs?: number;
  /** null while the device model runs, else a description of its end (exit status, last lines) */
  deviceModelGone?: () => string | null;
}

const POLL_MS = 20;

export class GuestIo {
  readonly vcpu: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly guest: GuestEmulator,
    readonly domid: number,
    private readonly opts: GuestIoOptions = {},
  ) {
    this.vcpu = opts.vcpu ?? 0;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  private settle(what: string, start: (onDone: (r: AccessResult) => void) => AccessResult): Promise<AccessResult> {
    return new Promise((resolve, reject) => {
      let finished = false;
      const t: { timer?: NodeJS.Timeout; poll?: NodeJS.Timeout } = {};
      const done = (r: AccessResult): void => {
        if (finished) return;
        finished = true;
        clearTimeout(t.timer);
        clearInterval(t.poll);
        if (r.status === "unhandled") reject(new GuestIoError("unhandled", what, `${what}: ${r.reason} (${r.effect})`));
        else if (r.status === "retry") reject(new GuestIoError("unhandled", what, `${what}: retry`));
        else resolve(r);
      };
      const r = start(done);
      if (r.status !== "pending") {
        done(r);
        return;
      }
      t.timer = setTimeout(() => {
        if (finished) return;
        finished = true;
        clearInterval(t.poll);
        const gone = this.opts.deviceModelGone?.() ?? null;
        reject(gone !== null
          ? new GuestIoError("device-model-died", what, `${what}: vCPU ${this.vcpu} is blocked on an ioreq and its device model is gone: ${gone}`)
          : new GuestIoError("timeout", what, `${what}: no answer from the device model within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      // a device model that dies fails the access now rather than at the bound
      t.poll = setInterval(() => {
        const gone = this.opts.deviceModelGone?.() ?? null;
        if (gone === null || finished) return;
        finished = true;
        clearTimeout(t.timer);
        clearInterval(t.poll);
        reject(new GuestIoError("device-model-died", what, `${what}: vCPU ${this.vcpu} is blocked on an ioreq and its device model is gone: ${gone}`));
      }, POLL_MS);
    });
  }

  /** Runs the vCPU's pending mapcache INVALIDATE broadcast first, if one is flagged. */
  async resume(): Promise<void> {
    await this.settle("resume", (cb) => this.guest.resume(this.domid, this.vcpu, cb));
  }

  async pioRead(port: number, size: 1 | 2 | 4): Promise<number> {
    await this.resume();
    const r = await this.settle(`in${size} 0x${port.toString(16)}`, (cb) => this.guest.pio(this.domid, this.vcpu, { port, size, dir: "read" }, cb));
    return Number(r.status === "done" ? (r.value ?? 0n) : 0n);
  }

  async pioWrite(port: number, size: 1 | 2 | 4, value: number): Promise<void> {
    await this.resume();
    await this.settle(`out${size} 0x${port.toString(16)}`, (cb) => this.guest.pio(this.domid, this.vcpu, { port, size, dir: "write", data: value }, cb));
  }

  /** rep outs: `count` elements of `size` bytes from guest memory at `gpa` (data_is_ptr). */
  async pioWriteString(port: number, size: 1 | 2 | 4, gpa: number, count: number): Promise<number> {
    await this.resume();
    const r = await this.settle(`rep outs 0x${port.toString(16)}`, (cb) =>
      this.guest.pio(this.domid, this.vcpu, { port, size, dir: "write", data: gpa, count, data_is_ptr: true }, cb));
    return r.status === "done" ? (r.reps ?? count) : 0;
  }

  async mmioRead(addr: number | bigint, size: number): Promise<bigint> {
    await this.resume();
    const r = await this.settle(`mmio read 0x${addr.toString(16)}/${size}`, (cb) => this.guest.mmio(this.domid, this.vcpu, { addr, size, dir: "read" }, cb));
    return r.status === "done" ? (r.value ?? 0n) : 0n;
  }

  async mmioWrite(addr: number | bigint, size: number, value: number | bigint): Promise<void> {
    await this.resume();
    await this.settle(`mmio write 0x${addr.toString(16)}/${size}`, (cb) => this.guest.mmio(this.domid, this.vcpu, { addr, size, dir: "write", data: value }, cb));
  }

  /** PCI configuration mechanism #1: the address to 0xCF8, the data at 0xCFC + (reg & 3). */
  readonly pci: PciConfig = {
    read: async (bdf, reg, size) => {
      await this.pioWrite(0xcf8, 4, cf8(bdf, reg));
      return this.pioRead(0xcfc + (reg & 3), size as 1 | 2 | 4);
    },
    write: async (bdf, reg, size, value) => {
      await this.pioWrite(0xcf8, 4, cf8(bdf, reg));
      await this.pioWrite(0xcfc + (reg & 3), size as 1 | 2 | 4, value);
    },
  };
}

function cf8(bdf: number, reg: number): number {
  return (0x80000000 | ((bdf & 0xffff) << 8) | (reg & 0xfc)) >>> 0;
}
