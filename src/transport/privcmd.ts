// The real /dev/xen/privcmd through koffi, for a Xen host (or a process running under the
// LD_PRELOAD shim). Symbols come from the process's global namespace (koffi.load(null)) so an
// interposed open/ioctl applies; loading libc.so.6 by name would bypass LD_PRELOAD.
import { createRequire } from "node:module";
import { encodeInto, getCodec } from "../codec/index.js";
import { IOCTL_PRIVCMD_DM_OP, IOCTL_PRIVCMD_HYPERCALL, IOCTL_PRIVCMD_RESTRICT } from "../../abi/linux/privcmd.js";
import { bufSize, type CallOutcome, type IoctlOutcome, type Transport, type TransportBuf, type TransportFactory } from "./types.js";

type KoffiFn = (...args: unknown[]) => unknown;
interface Koffi {
  load(path: string | null): { func(decl: string): KoffiFn };
  address(v: unknown): bigint;
  errno(): number;
}

const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;

interface Libc {
  open: KoffiFn;
  close: KoffiFn;
  ioctl: KoffiFn;
  koffi: Koffi;
}

let libc: Libc | undefined;
function load(): Libc {
  if (libc !== undefined) return libc;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)("koffi") as Koffi;
  } catch (e) {
    // koffi is an optional dependency: only this transport needs it
    throw new Error(`the real /dev/xen/privcmd transport needs the optional dependency koffi (npm install koffi): ${e instanceof Error ? e.message.split("\n")[0]! : String(e)}`);
  }
  const self = koffi.load(null);
  libc = {
    koffi,
    open: self.func("int open(const char *path, int flags, ...)"),
    close: self.func("int close(int fd)"),
    ioctl: self.func("int ioctl(int fd, unsigned long req, ...)"),
  };
  return libc;
}

/** Thrown when open() of the device fails (errno as open(2) set it). */
export class PrivcmdOpenError extends Error {
  constructor(readonly path: string, readonly errno: number) {
    super(`open ${path}: errno ${errno}`);
    this.name = "PrivcmdOpenError";
  }
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;

export class PrivcmdTransport implements Transport {
  #fd: number;

  private constructor(private readonly c: Libc, fd: number) {
    this.#fd = fd;
  }

  static open(path = "/dev/xen/privcmd"): Promise<PrivcmdTransport> {
    const c = load();
    const fd = c.open(path, O_RDWR | O_CLOEXEC, "int", 0) as number;
    if (fd < 0) return Promise.reject(new PrivcmdOpenError(path, c.koffi.errno()));
    return Promise.resolve(new PrivcmdTransport(c, fd));
  }

  #ioctl(req: number, arg: Uint8Array): IoctlOutcome {
    if (this.#fd < 0) throw new Error("privcmd: the handle is closed");
    const ret = this.c.ioctl(this.#fd, req, "void *", arg) as number;
    return ret === -1 ? { ret, errno: this.c.koffi.errno() } : { ret };
  }

  /** Addresses of the caller's buffers; the arrays stay referenced by `bufs` during the call. */
  #addr(b: TransportBuf): bigint {
    return b.unreadable === true || b.bytes.length === 0 ? 0n : this.c.koffi.address(b.bytes);
  }

  dmOp(dom: number, bufs: TransportBuf[], num = bufs.length): Promise<CallOutcome> {
    // The kernel copies `num` entries when 1 <= num <= 16: never let it read past this array
    // (entries beyond bufs are {NULL, 0}).
    const entries = Math.max(1, bufs.length, num <= 16 ? num : 0);
    const ubufs = new Uint8Array(entries * 16);
    bufs.forEach((b, i) => {
      encodeInto("privcmd_dm_op_buf", { uptr: this.#addr(b), size: bufSize(b) > U64_MAX ? U64_MAX : bufSize(b) }, ubufs, i * 16);
    });
    const uop = new Uint8Array(16);
    encodeInto("privcmd_dm_op", { dom, num, ubufs: bufs.length === 0 && num === 0 ? 0n : this.c.koffi.address(ubufs) }, uop);
    const r = this.#ioctl(IOCTL_PRIVCMD_DM_OP, uop);
    return Promise.resolve({ ...r, bufs: bufs.map((b) => b.bytes) });
  }

  restrict(dom: number): Promise<IoctlOutcome> {
    const d = new Uint8Array(2);
    new DataView(d.buffer).setUint16(0, dom, true);
    return Promise.resolve(this.#ioctl(IOCTL_PRIVCMD_RESTRICT, d));
  }

  hypercall(op: number | bigint, args: readonly (number | bigint)[], bufs: TransportBuf[] = []): Promise<CallOutcome> {
    const a = [0, 1, 2, 3, 4].map((i) => BigInt.asUintN(64, BigInt(args[i] ?? 0)));
    let xbufs: Uint8Array | undefined;
    if (bufs.length > 0) {
      const codec = getCodec("xen_dm_op_buf");
      xbufs = new Uint8Array(bufs.length * codec.size);
      const v = new DataView(xbufs.buffer);
      bufs.forEach((b, i) => { codec.write(v, i * codec.size, { h: { p: this.#addr(b) }, size: bufSize(b) > U64_MAX ? U64_MAX : bufSize(b) }); });
      a[2] = this.c.koffi.address(xbufs);
    }
    const call = new Uint8Array(48);
    encodeInto("privcmd_hypercall", { op: BigInt(op), arg: a }, call);
    const r = this.#ioctl(IOCTL_PRIVCMD_HYPERCALL, call);
    xbufs = undefined; // referenced until the ioctl has returned
    return Promise.resolve({ ...r, bufs: bufs.map((b) => b.bytes) });
  }

  close(): Promise<void> {
    if (this.#fd >= 0) this.c.close(this.#fd);
    this.#fd = -1;
    return Promise.resolve();
  }
}

export class PrivcmdTransportFactory implements TransportFactory {
  constructor(readonly path = "/dev/xen/privcmd") {}
  open(): Promise<Transport> {
    return PrivcmdTransport.open(this.path);
  }
}
