// What the real libxendevicemodel sends for given arguments: DeviceModel (byte-identical to the C
// library, quirks included) run over a transport that records what it is handed and answers 0.
// DeviceModel reaches its transport synchronously (before its first await), so a call's buffers are
// known as soon as the method has been called; the promise it returns is only drained.
import { DeviceModel } from "../devicemodel/index.js";
import type { CallOutcome, IoctlOutcome, Transport, TransportBuf, TransportFactory } from "../transport/types.js";
import type { ConformPath } from "./types.js";

/** One xendevicemodel_* call with its arguments, as inferred from a request. */
export interface LibraryCall {
  fn: string;
  invoke(dm: DeviceModel, domid: number): Promise<unknown>;
  /** Buffers that are the caller's own memory, passed in place (their contents are not the library's). */
  callerBuffers?: readonly number[];
}

/** What the library hands to the privcmd ioctl or to libxencall for one call. */
export interface Emitted {
  bufs: readonly TransportBuf[];
  /** The hypercall path: arg[0..2] as passed to libxencall (arg[2] stands for the buffer array). */
  args?: readonly bigint[];
}

class Recorder implements Transport {
  last: Emitted | undefined;

  dmOp(_dom: number, bufs: TransportBuf[]): Promise<CallOutcome> {
    this.last = { bufs };
    return Promise.resolve({ ret: 0, bufs: [] });
  }

  restrict(): Promise<IoctlOutcome> {
    return Promise.resolve({ ret: 0 });
  }

  hypercall(_op: number | bigint, args: readonly (number | bigint)[], bufs: TransportBuf[] = []): Promise<CallOutcome> {
    this.last = { bufs, args: args.map((a) => BigInt(a)) };
    return Promise.resolve({ ret: 0, bufs: bufs.map((b) => b.bytes) });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ignore = (): void => {};

/** Both of the library's paths, each a DeviceModel over its own recorder. */
export class LibraryModel {
  private constructor(private readonly dms: Readonly<Record<ConformPath, { dm: DeviceModel; rec: Recorder }>>) {}

  static async create(): Promise<LibraryModel> {
    const make = async (path: ConformPath): Promise<{ dm: DeviceModel; rec: Recorder }> => {
      const rec = new Recorder();
      const factory: TransportFactory = { open: () => Promise.resolve(rec) };
      const dm = await DeviceModel.open(factory, { path });
      rec.last = undefined; // the open-time probe
      return { dm, rec };
    };
    return new LibraryModel({ ioctl: await make("ioctl"), hypercall: await make("hypercall") });
  }

  /** What the library sends for `call` on `path`; undefined when it refuses the arguments itself. */
  emit(path: ConformPath, domid: number, call: LibraryCall): Emitted | undefined {
    const { dm, rec } = this.dms[path];
    rec.last = undefined;
    call.invoke(dm, domid).then(ignore, ignore);
    const out = rec.last;
    rec.last = undefined;
    return out;
  }
}
