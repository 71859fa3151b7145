// A transport decorator that records what crosses it: the buffers as sent (copied before the call)
// and after, the ioctl result. The calls still go to the wrapped (real) transport.
import type { CallOutcome, IoctlOutcome, Transport, TransportBuf, TransportFactory } from "../../src/transport/types.js";

export interface TapCall {
  ioctl: "dm_op" | "restrict" | "hypercall";
  dom: number;
  num: number;
  sizes: bigint[];
  before: string[];
  after: string[];
  ret: number;
  errno: number;
  args?: bigint[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const size = (b: TransportBuf): bigint => (b.size === undefined ? BigInt(b.bytes.length) : BigInt(b.size));
/** The bytes the descriptor covers (as far as the caller's memory reaches). */
const covered = (b: TransportBuf): string => hex(b.bytes.subarray(0, Number(size(b) < BigInt(b.bytes.length) ? size(b) : BigInt(b.bytes.length))));

export class Tap implements Transport {
  constructor(private readonly inner: Transport, readonly calls: TapCall[], private readonly positive?: number) {}

  async dmOp(dom: number, bufs: TransportBuf[], num = bufs.length): Promise<CallOutcome> {
    const before = bufs.map(covered);
    const r = await this.inner.dmOp(dom, bufs, num);
    const ret = r.ret === 0 && num > 0 && this.positive !== undefined ? this.positive : r.ret;
    this.calls.push({ ioctl: "dm_op", dom, num, sizes: bufs.map(size), before, after: bufs.map(covered), ret, errno: r.errno ?? 0 });
    return { ...r, ret };
  }

  async restrict(dom: number): Promise<IoctlOutcome> {
    const r = await this.inner.restrict(dom);
    this.calls.push({ ioctl: "restrict", dom, num: 0, sizes: [], before: [], after: [], ret: r.ret, errno: r.errno ?? 0 });
    return r;
  }

  async hypercall(op: number | bigint, args: readonly (number | bigint)[], bufs: TransportBuf[] = []): Promise<CallOutcome> {
    const before = bufs.map(covered);
    const r = await this.inner.hypercall!(op, args, bufs);
    const ret = r.ret === 0 && this.positive !== undefined ? this.positive : r.ret;
    this.calls.push({
      ioctl: "hypercall", dom: Number(args[0] ?? 0), num: Number(args[1] ?? 0), sizes: bufs.map(size), before,
      after: bufs.map(covered), ret, errno: r.errno ?? 0, args: args.map((a) => BigInt(a)),
    });
    return { ...r, ret };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Wraps every handle a factory opens. `positive` makes a successful call report that value instead of 0. */
export class TapFactory implements TransportFactory {
  readonly calls: TapCall[] = [];
  constructor(private readonly inner: TransportFactory, private readonly positive?: number) {}
  async open(): Promise<Transport> {
    return new Tap(await this.inner.open(), this.calls, this.positive);
  }
  /** The calls after the open-time probe. */
  get ops(): TapCall[] {
    return this.calls.filter((c) => !(c.ioctl === "dm_op" && c.num === 0 && c.dom === 0x7ff4));
  }
}
