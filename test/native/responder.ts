// A small stand-in for `xendm serve`: speaks docs/protocol.md, applies the Linux privcmd checks and a
// minimal Xen-like dm_op (one HVM domain). Used by the shim tests when the real server is unavailable.
import { createServer, type Server, type Socket } from "node:net";

const EPERM = 1, ENOENT = 2, ESRCH = 3, EFAULT = 14, EINVAL = 22, E2BIG = 7, ENOSYS = 38, EOPNOTSUPP = 95;
const ENODATA = 61;
const DOMID_INVALID = 0x7ff4;

export interface ResponderStats { frames: number; connections: number; hellos: { caller: number; abi: number }[] }

interface Desc { size: bigint; flags: number }
interface World { dom: number; vcpus: number; nextId: number; servers: Map<number, number> }

function reply(sock: Socket, kind: number, seq: number, body: Buffer): void {
  const hdr = Buffer.alloc(12);
  hdr.writeUInt32LE(8 + body.length, 0);
  hdr.writeUInt8(1, 4);
  hdr.writeUInt8(kind, 5);
  hdr.writeUInt16LE(0, 6);
  hdr.writeUInt32LE(seq, 8);
  sock.write(Buffer.concat([hdr, body]));
}

function result(ret: number, errno: number, bufs: Buffer[]): Buffer {
  const head = Buffer.alloc(12);
  head.writeInt32LE(ret, 0);
  head.writeInt32LE(errno, 4);
  head.writeUInt32LE(bufs.length, 8);
  const parts: Buffer[] = [head];
  for (const b of bufs) {
    const s = Buffer.alloc(4);
    s.writeUInt32LE(b.length, 0);
    parts.push(s, b);
  }
  return Buffer.concat(parts);
}

/** Descriptors (and contents) as the shim sends them; null when the body is malformed. */
function readDescs(body: Buffer, off: number): { descs: Desc[]; contents: Buffer[] | null } | null {
  if (body.length < off + 4) return null;
  const n = body.readUInt32LE(off);
  let p = off + 4;
  const descs: Desc[] = [];
  for (let i = 0; i < n; i++) {
    if (body.length < p + 16) return null;
    descs.push({ size: body.readBigUInt64LE(p), flags: body.readUInt32LE(p + 8) });
    p += 16;
  }
  if (descs.some((d) => d.size > 4096n || d.flags !== 0)) return p === body.length ? { descs, contents: null } : null;
  const contents: Buffer[] = [];
  for (const d of descs) {
    const sz = Number(d.size);
    if (body.length < p + sz) return null;
    contents.push(Buffer.from(body.subarray(p, p + sz)));
    p += sz;
  }
  return p === body.length ? { descs, contents } : null;
}

/** A tiny Xen: enough for the conformance driver to see outputs flow back. */
function xen(w: World, dom: number, bufs: Buffer[]): number {
  if (bufs.length === 0) return -ENODATA;
  if (bufs.length > 2) return -E2BIG;
  if (dom !== w.dom) return -ESRCH;
  const b0 = bufs[0];
  if (b0 === undefined || b0.length < 8) return -EFAULT;
  const op = b0.readUInt32LE(0);
  if (op >= 21) return -EOPNOTSUPP;
  if (b0.length < 32) return -EFAULT;
  switch (op) {
    case 1: { // create_ioreq_server
      if (b0.readUInt8(8) > 2) return -EINVAL;
      const id = w.nextId++;
      w.servers.set(id, 0x100 + id * 7);
      b0.writeUInt16LE(id, 12);
      return 0;
    }
    case 2: { // get_ioreq_server_info
      const id = b0.readUInt16LE(8);
      const port = w.servers.get(id);
      if (port === undefined) return -ENOENT;
      b0.writeUInt32LE(port, 12);
      if ((b0.readUInt16LE(10) & 1) === 0) {
        b0.writeBigUInt64LE(0xfeff0n - BigInt(id), 16);
        b0.writeBigUInt64LE(0xfeff8n - BigInt(id), 24);
      }
      return 0;
    }
    case 6: { // destroy
      const id = b0.readUInt16LE(8);
      return w.servers.delete(id) ? 0 : -ENOENT;
    }
    case 7: { // track_dirty_vram: mark every other page dirty
      const b1 = bufs[1];
      if (b1 !== undefined) for (let i = 0; i < b1.length; i++) b1[i] = 0x55;
      return 0;
    }
    case 20: // nr_vcpus
      b0.writeUInt32LE(w.vcpus, 8);
      return 0;
    default:
      return 0;
  }
}

export function startResponder(path: string): Promise<{ server: Server; stats: ResponderStats; close(): Promise<void> }> {
  const stats: ResponderStats = { frames: 0, connections: 0, hellos: [] };
  const world: World = { dom: 1, vcpus: 4, nextId: 1, servers: new Map() };
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    stats.connections++;
    sockets.add(sock);
    let restrict = DOMID_INVALID;
    let acc = Buffer.alloc(0);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => undefined);
    sock.on("data", (chunk: Buffer) => {
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      while (acc.length >= 4) {
        const len = acc.readUInt32LE(0);
        if (acc.length < 4 + len) break;
        const frame = acc.subarray(4, 4 + len);
        acc = acc.subarray(4 + len);
        stats.frames++;
        const kind = frame.readUInt8(1);
        const seq = frame.readUInt32LE(4);
        const body = frame.subarray(8);
        const bad = (): void => {
          const e = Buffer.alloc(4);
          e.writeUInt32LE(5, 0);
          reply(sock, 0xff, seq, Buffer.concat([e, Buffer.from("bad body")]));
          sock.end();
        };
        if (kind === 0x01) {
          stats.hellos.push({ caller: body.readUInt16LE(0), abi: body.readUInt8(2) });
          const r = Buffer.alloc(8);
          r.writeUInt32LE(1, 0);
          reply(sock, 0x81, seq, Buffer.concat([r, Buffer.from("responder")]));
        } else if (kind === 0x02) {
          const dom = body.readUInt16LE(0);
          const num = body.readUInt16LE(2);
          const d = readDescs(body, 4);
          if (d === null) { bad(); return; }
          let ret = 0;
          let errno = 0;
          let out: Buffer[] = [];
          // mirrors privcmd.c:privcmd_ioctl_dm_op
          if (restrict !== DOMID_INVALID && dom !== restrict) errno = EPERM;
          else if (num === 0) ret = 0;
          else if (num > 16) errno = E2BIG;
          else if (d.descs.some((x) => x.size > 4096n)) errno = E2BIG;
          else if (d.contents === null) errno = EFAULT;
          else {
            const r = xen(world, dom, d.contents);
            out = d.contents;
            if (r < 0) errno = -r;
            else ret = r;
          }
          if (errno !== 0) ret = -1;
          reply(sock, 0x82, seq, result(ret, errno, out));
        } else if (kind === 0x03) {
          const dom = body.readUInt16LE(0);
          const flags = body.readUInt16LE(2);
          const r = Buffer.alloc(8);
          let errno = 0;
          if (flags & 1) errno = EFAULT;
          else if (restrict === DOMID_INVALID) restrict = dom;
          else if (restrict !== dom) errno = EINVAL;
          r.writeInt32LE(errno === 0 ? 0 : -1, 0);
          r.writeInt32LE(errno, 4);
          reply(sock, 0x83, seq, r);
        } else if (kind === 0x04) {
          const op = body.readBigUInt64LE(0);
          const args = [0, 1, 2, 3, 4].map((i) => body.readBigUInt64LE(8 + 8 * i));
          let ret = -1;
          let errno = 0;
          let out: Buffer[] = [];
          if (restrict !== DOMID_INVALID) errno = EPERM;
          else if (op !== 41n) errno = ENOSYS;
          else {
            const d = readDescs(body, 48);
            if (d === null) { bad(); return; }
            const nr = args[1] ?? 0n;
            if (nr === 0n) errno = ENODATA;
            else if (nr > 2n) errno = E2BIG;
            else if (d.contents === null) errno = EFAULT;
            else {
              const r = xen(world, Number(args[0] ?? 0n) & 0xffff, d.contents);
              out = d.contents;
              if (r < 0) errno = -r;
              else ret = r;
            }
          }
          reply(sock, 0x84, seq, result(ret, errno, out));
        } else if (kind === 0x7f) {
          reply(sock, 0xff, seq, Buffer.alloc(0));
          sock.end();
        } else {
          const e = Buffer.alloc(4);
          e.writeUInt32LE(4, 0);
          reply(sock, 0xff, seq, Buffer.concat([e, Buffer.from("unknown kind")]));
          sock.end();
        }
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      resolve({
        server,
        stats,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => { res(); });
          }),
      });
    });
  });
}
