// The IoreqPort of a server reached over `xendm serve`'s socket, for a TypeScript device model in
// another process: the server's pages are mapped from the server's shared file (SHM_INFO, then
// MMAP_RESOURCE names each frame's offset), and its event channels are a /dev/xen/evtchn file of the
// protocol (EVTCHN_OPEN, EVTCHN_STREAM, EVTCHN_IOCTL), exactly what the LD_PRELOAD shim gives a C program.
import { closeSync, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { IOCTL_EVTCHN } from "../../abi/linux/evtchn.js";
import { XENMEM_resource_ioreq_server } from "../../abi/xen/xen.js";
import { decode, encode } from "../codec/index.js";
import type { IoreqEvents, IoreqPort } from "../emulator/port.js";
import { IoreqClient, type IoreqClientInit } from "../emulator/client.js";
import { Kind, MMAP_ADDR_SET, MMAP_IN_VMA, frame, parseCallReply, parseEvtchnOpenReply, parseRestrictReply } from "./protocol.js";
import { mapShared } from "./shared-pages.js";
import { SocketTransport } from "./socket.js";

export class SocketPortError extends Error {
  constructor(readonly step: string, readonly errno: number, message: string) {
    super(message);
    this.name = "SocketPortError";
  }
}

export interface SocketTarget {
  /** The guest domain and the ioreq server (created, and enabled so that its vCPU ports are written). */
  domid: number;
  id: number;
  /** The calling domain (HELLO; default 0). */
  caller?: number;
  /**
   * Enable the server once its pages are mapped (default true), as QEMU does: enabling writes each
   * vCPU's port into its slot, which the binding then reads. false: the server is enabled already
   * (and was mapped before, so its slots hold the ports).
   */
  enable?: boolean;
}

const le32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);
const i32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(o, true);

/** An ioreq server's port over the socket, and how to let it go. */
export interface SocketIoreqPort extends IoreqPort {
  close(): Promise<void>;
}

async function evtchnIoctl(ctl: SocketTransport, name: keyof typeof IOCTL_EVTCHN, a0: number, a1 = 0): Promise<number> {
  const r = parseRestrictReply(await ctl.request({ kind: Kind.EVTCHN_IOCTL, nr: IOCTL_EVTCHN[name], flags: 0, a0, a1 }));
  if (r.ret < 0) throw new SocketPortError(`IOCTL_EVTCHN_${name}`, r.errno, `IOCTL_EVTCHN_${name}(${a0}, ${a1}): errno ${r.errno}`);
  return r.ret;
}

/** The stream connection of an evtchn file: each 4 bytes in is a pending port; writes are unmasks. */
function openStream(path: string, token: bigint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => {
      const body = new Uint8Array(8);
      new DataView(body.buffer).setBigUint64(0, token, true);
      s.write(frame(Kind.EVTCHN_STREAM, 1, body));
    });
    s.once("error", reject);
    let head: Buffer = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      if (head.length < 20) return;
      s.off("data", onData);
      const r = parseRestrictReply(new Uint8Array(head.subarray(12, 20)));
      if (head[5] !== (Kind.EVTCHN_STREAM | 0x80) || r.ret !== 0) {
        s.destroy();
        reject(new SocketPortError("EVTCHN_STREAM", r.errno, `EVTCHN_STREAM refused: errno ${r.errno}`));
        return;
      }
      s.pause();
      if (head.length > 20) s.unshift(head.subarray(20));
      s.setNoDelay(true);
      resolve(s);
    };
    s.on("data", onData);
  });
}

/**
 * Maps server `t.id`'s pages, enables it (unless told not to) and binds its event channels through the
 * socket at `path`, in QEMU's order: map, get_ioreq_server_info, enable, bind each vCPU's port (read
 * from its slot) and the buffered port. Every port is bound here, ahead, so the client's bind() answers
 * at once.
 */
export async function socketIoreqPort(path: string, t: SocketTarget): Promise<SocketIoreqPort> {
  const caller = t.caller ?? 0;
  const priv = await SocketTransport.connect(path, { caller, name: "xendm ioreq-socket" });
  const ctl = await SocketTransport.connect(path, { caller, name: "xendm ioreq-socket evtchn" });
  let stream: Socket | undefined;
  let fd = -1;
  try {
    // where the pages are
    const info = await priv.request({ kind: Kind.SHM_INFO });
    if (i32(info, 0) !== 0) throw new SocketPortError("SHM_INFO", i32(info, 4), `the server shares no memory: errno ${i32(info, 4)}`);
    const file = new TextDecoder().decode(info.subarray(16));
    fd = openSync(file, "r+");
    // the buffered port (get_ioreq_server_info with XEN_DMOP_no_gfns), and with it whether frame 0 exists
    const op = encode("xen_dm_op", { op: "XEN_DMOP_get_ioreq_server_info", u: { get_ioreq_server_info: { id: t.id, flags: "XEN_DMOP_no_gfns" } } });
    const rep = parseCallReply(await priv.request({ kind: Kind.DM_OP, dom: t.domid, num: 1, bufs: [{ size: BigInt(op.length), flags: 0, bytes: op }] }));
    if (rep.ret < 0) throw new SocketPortError("get_ioreq_server_info", rep.errno, `get_ioreq_server_info(${t.id}): errno ${rep.errno}`);
    const bport = decode("xen_dm_op", rep.bufs[0]!).u.get_ioreq_server_info?.bufioreq_port ?? 0;
    const first = bport !== 0 ? 0 : 1;
    const mm = await priv.request({
      kind: Kind.MMAP_RESOURCE, dom: t.domid, flags: MMAP_ADDR_SET | MMAP_IN_VMA, type: XENMEM_resource_ioreq_server, id: t.id, idx: first, num: BigInt(2 - first),
    });
    if (i32(mm, 0) !== 0) throw new SocketPortError("MMAP_RESOURCE", i32(mm, 4), `mapping the pages of server ${t.id}: errno ${i32(mm, 4)}`);
    const pages = Array.from({ length: le32(mm, 12) }, (_, k) => mapShared(fd, Number(new DataView(mm.buffer, mm.byteOffset + 16 + 8 * k, 8).getBigUint64(0, true)), 4096));
    const ioreqPage = pages[pages.length - 1]!;
    const bufioreqPage = first === 0 ? pages[0]! : null;
    if (t.enable !== false) {
      const en = encode("xen_dm_op", { op: "XEN_DMOP_set_ioreq_server_state", u: { set_ioreq_server_state: { id: t.id, enabled: 1 } } });
      const r = parseCallReply(await priv.request({ kind: Kind.DM_OP, dom: t.domid, num: 1, bufs: [{ size: BigInt(en.length), flags: 0, bytes: en }] }));
      if (r.ret < 0) throw new SocketPortError("set_ioreq_server_state", r.errno, `enabling server ${t.id}: errno ${r.errno}`);
    }
    // the event channels: one file, every port bound ahead
    const open = parseEvtchnOpenReply(await ctl.request({ kind: Kind.EVTCHN_OPEN, token: 0n }));
    if (open.ret !== 0) throw new SocketPortError("EVTCHN_OPEN", open.errno, `opening an event-channel file: errno ${open.errno}`);
    const s = await openStream(path, open.token);
    stream = s;
    const vcpus = (await nrVcpus(priv, t.domid));
    const remote: number[] = [];
    for (let v = 0; v < vcpus; v++) remote.push(le32(ioreqPage, v * 32 + 24));
    const local = new Map<number, number>();
    for (const r of [...remote, ...(bport !== 0 ? [bport] : [])]) if (r !== 0) local.set(r, await evtchnIoctl(ctl, "BIND_INTERDOMAIN", t.domid, r));
    const listeners = new Set<(port: number) => void>();
    const unmask = new Uint8Array(4);
    let carry: Buffer = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      const b = carry.length > 0 ? Buffer.concat([carry, d]) : d;
      let o = 0;
      for (; o + 4 <= b.length; o += 4) {
        const port = b.readUInt32LE(o);
        // unmask first (xenevtchn_unmask), as QEMU does, then hand the port over
        new DataView(unmask.buffer).setUint32(0, port, true);
        s.write(Buffer.from(unmask));
        for (const l of listeners) l(port);
      }
      carry = b.subarray(o);
    });
    s.resume();
    const events: IoreqEvents = {
      onNotify: (l) => { listeners.add(l); return () => listeners.delete(l); },
      notify: (port) => { void evtchnIoctl(ctl, "NOTIFY", port).catch(() => undefined); },
      bind: (r) => {
        const l = local.get(r);
        if (l === undefined) throw new SocketPortError("bind", 0, `port ${r} of domain ${t.domid} was not bound ahead`);
        return l;
      },
      unbind: () => undefined, // released with the file
    };
    const fdHeld = fd;
    return {
      ioreqPage, bufioreqPage, vcpus, vcpuPorts: remote, bufioreqPort: bport !== 0 ? bport : null, events,
      close: async () => {
        s.destroy();
        await ctl.close();
        await priv.close();
        closeSync(fdHeld);
      },
    };
  } catch (e) {
    stream?.destroy();
    await ctl.close().catch(() => undefined);
    await priv.close().catch(() => undefined);
    if (fd >= 0) closeSync(fd);
    throw e;
  }
}

async function nrVcpus(priv: SocketTransport, domid: number): Promise<number> {
  const op = encode("xen_dm_op", { op: "XEN_DMOP_nr_vcpus", u: { nr_vcpus: { vcpus: 0 } } });
  const rep = parseCallReply(await priv.request({ kind: Kind.DM_OP, dom: domid, num: 1, bufs: [{ size: BigInt(op.length), flags: 0, bytes: op }] }));
  if (rep.ret < 0) throw new SocketPortError("nr_vcpus", rep.errno, `nr_vcpus(${domid}): errno ${rep.errno}`);
  return decode("xen_dm_op", rep.bufs[0]!).u.nr_vcpus?.vcpus ?? 0;
}

/** An IoreqClient on a server behind the socket (socketIoreqPort, then the client); close() releases both. */
export async function attachSocket(path: string, t: SocketTarget, opts: Pick<IoreqClientInit, "readPointerUpdate"> = {}): Promise<{ client: IoreqClient; close(): Promise<void> }> {
  const port = await socketIoreqPort(path, t);
  const init: IoreqClientInit = port;
  if (opts.readPointerUpdate !== undefined) init.readPointerUpdate = opts.readPointerUpdate;
  const client = new IoreqClient(init);
  return { client, close: async () => { client.close(); await port.close(); } };
}
