// In-process transport: a privcmd handle of src/privcmd in front of a fake Hypervisor, in this process.
// The hypervisor reads and writes the caller's bytes in place, as Xen writes pinned user pages.
import type { DmOpBuf, IoctlResult, PrivcmdDevice, PrivcmdHandle } from "../privcmd/index.js";
import type { CallOutcome, IoctlOutcome, Transport, TransportBuf, TransportFactory } from "./types.js";

/** Largest claimed size handed on as a number (anything above the kernel's limits behaves the same). */
const SIZE_CAP = BigInt(Number.MAX_SAFE_INTEGER);

export function toDmOpBuf(b: TransportBuf): DmOpBuf {
  const size = b.size === undefined ? b.bytes.length : BigInt(b.size) > SIZE_CAP ? Number(SIZE_CAP) : Number(b.size);
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
    const r = outcome(this.handle.dm_op(dom, num, bufs.map(toDmOpBuf)));
    return Promise.resolve({ ...r, bufs: bufs.map((b) => b.bytes) });
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
