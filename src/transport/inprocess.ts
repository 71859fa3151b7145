// In-process transport: a privcmd handle of src/privcmd in front of a fake Hypervisor, in this process.
// The hypervisor reads and writes the caller's bytes in place, as Xen writes pinned user pages.
import type { DmOpBuf, IoctlResult, PrivcmdDevice, PrivcmdHandle } from "../privcmd/index.js";
import type { CallOutcome, IoctlOutcome, Transport, TransportBuf, TransportFactory } from "./types.js";

/** Largest claimed size handed on as a number (anything above the kernel's limits behaves the same). */
const SIZE_CAP = BigInt(Number.MAX_SAFE_INTEGER);

export function toDmOpBuf(b: TransportBuf): DmOpBuf {
  const s = b.size;
  const size = s === undefined ? b.bytes.length
    : typeof s === "number" && Number.isSafeInteger(s) ? s
    : BigInt(s) > SIZE_CAP ? Number(SIZE_CAP) : Number(s);
  const out: DmOpBuf = { bytes: b.bytes, size };
  if (b.unreadable === true) out.fault = { read: true, write: true };
  return out;
}

function outcome(r: IoctlResult): IoctlOutcome {
  return "errno" in r ? { ret: r.ret, errno: r.errno } : { ret: r.ret };
}

export class InProcessTransport implements Transport {
  constructor(readonly handle: PrivcmdHandle) {}

  dmOp(dom: number, bufs: TransportBuf[], num = bufs.length): Promise<CallOutcome> {
    const n = bufs.length;
    const dm = new Array<DmOpBuf>(n);
    const after = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) {
      const b = bufs[i]!;
      dm[i] = toDmOpBuf(b);
      after[i] = b.bytes;
    }
    const r = this.handle.dm_op(dom, num, dm);
    return Promise.resolve("errno" in r ? { ret: r.ret, errno: r.errno, bufs: after } : { ret: r.ret, bufs: after });
  }

  restrict(dom: number): Promise<IoctlOutcome> {
    return Promise.resolve(outcome(this.handle.restrict(dom)));
  }

  hypercall(op: number | bigint, args: readonly (number | bigint)[], bufs: TransportBuf[] = []): Promise<CallOutcome> {
    const r = outcome(this.handle.hypercall(BigInt(op), args.map((a) => BigInt(a)), bufs.map(toDmOpBuf)));
    return Promise.resolve({ ...r, bufs: bufs.map((b) => b.bytes) });
  }

  close(): Promise<void> {
    this.handle.close();
    return Promise.resolve();
  }
}

/** Each open() is a new privcmd file handle of `device`, opened as domain `caller`. */
export class InProcessTransportFactory implements TransportFactory {
  constructor(readonly device: PrivcmdDevice, readonly caller = 0) {}
  open(): Promise<Transport> {
    return Promise.resolve(new InProcessTransport(this.device.open(this.caller)));
  }
}
