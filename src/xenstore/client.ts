// Clients of the xenstored: in-process (through the core's own request path, so every rule applies)
// and over its Unix socket. Both speak in paths, values and permission strings.
import { connect, type Socket } from "node:net";
import {
  XS_DIRECTORY, XS_DIRECTORY_PART, XS_ERROR, XS_GET_PERMS, XS_INTRODUCE, XS_MKDIR, XS_READ, XS_RM, XS_SET_PERMS, XS_SET_TARGET,
  XS_WATCH_EVENT, XS_WRITE, XSD_ERRORS, type XsdErrorName,
} from "../../abi/xen/xs_wire.js";
import type { XsConnection } from "./connection.js";
import type { XenstoreCore } from "./core.js";
import { XsError } from "./errors.js";
import { frame, XsFrameReader, type XsMessage } from "./wire.js";

const z = (...a: (string | Buffer)[]): Buffer =>
  Buffer.concat(a.flatMap((x) => [typeof x === "string" ? Buffer.from(x, "latin1") : x, Buffer.from([0])]));
const list = (p: Buffer): string[] => {
  const s = p.toString("latin1").split("\0");
  if (s[s.length - 1] === "") s.pop();
  return s;
};
const errorOf = (p: Buffer): XsError => {
  const code = list(p)[0] ?? "EINVAL";
  return new XsError((XSD_ERRORS.includes(code) ? code : "EINVAL") as XsdErrorName);
};

/** one DIRECTORY_PART reply: generation, names, and whether the list ended */
function pagePart(p: Buffer): { names: string[]; bytes: number; done: boolean } {
  const genEnd = p.indexOf(0);
  const body = p.subarray(genEnd + 1);
  const done = body.length === 0 || (body.length >= 1 && body[body.length - 1] === 0 && (body.length === 1 || body[body.length - 2] === 0));
  const names = list(done ? body.subarray(0, body.length - 1) : body);
  return { names, bytes: names.reduce((a, n) => a + n.length + 1, 0), done };
}

function pageChildren(part: (off: number) => Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; ;) {
    const r = pagePart(part(off));
    out.push(...r.names);
    off += r.bytes;
    if (r.done) return out;
  }
}

/** The node as a query reports it */
export interface XsNodeView {
  exists: boolean;
  value?: string;
  perms?: string[];
  children?: string[];
}

/** A dom0 (or domain `domid`) client calling the core directly. Values are latin1 strings. */
export class XsLocalClient {
  private readonly conn: XsConnection;
  private last: { type: number; payload: Buffer } | undefined;

  constructor(readonly core: XenstoreCore, domid = 0) {
    this.conn = core.connect(domid, {
      reply: (type, _r, _t, payload) => { this.last = { type, payload: Buffer.from(payload) }; },
      event: () => undefined,
      close: () => undefined,
    });
  }

  private call(type: number, payload: Buffer): Buffer {
    this.last = undefined;
    this.core.process(this.conn, type, 0, 0, payload);
    const r = this.last as { type: number; payload: Buffer } | undefined;
    if (r === undefined) throw new XsError("EIO", "no reply");
    if (r.type === XS_ERROR) throw errorOf(r.payload);
    return r.payload;
  }

  read(path: string): string { return this.call(XS_READ, z(path)).toString("latin1"); }
  write(path: string, value: string): void { this.call(XS_WRITE, Buffer.concat([z(path), Buffer.from(value, "latin1")])); }
  mkdir(path: string): void { this.call(XS_MKDIR, z(path)); }
  rm(path: string): void { this.call(XS_RM, z(path)); }
  ls(path: string): string[] {
    try {
      return list(this.call(XS_DIRECTORY, z(path)));
    } catch (e) {
      if (!(e instanceof XsError) || e.code !== "E2BIG") throw e;
    }
    // as libxenstore's xs_directory does: page with DIRECTORY_PART
    return pageChildren((off) => this.call(XS_DIRECTORY_PART, z(path, String(off))));
  }
  getPerms(path: string): string[] { return list(this.call(XS_GET_PERMS, z(path))); }
  setPerms(path: string, perms: readonly string[]): void { this.call(XS_SET_PERMS, z(path, ...perms)); }
  introduce(domid: number, port = 1): void { this.call(XS_INTRODUCE, z(String(domid), "0", String(port))); }
  setTarget(domid: number, target: number): void { this.call(XS_SET_TARGET, z(String(domid), String(target))); }

  /** the same calls as promises (what src/toolstack's writeLayout takes) */
  writer(): { mkdir(p: string): Promise<void>; write(p: string, v: string): Promise<void>; setPerms(p: string, perms: readonly string[]): Promise<void> } {
    return {
      mkdir: (p) => { this.mkdir(p); return Promise.resolve(); },
      write: (p, v) => { this.write(p, v); return Promise.resolve(); },
      setPerms: (p, perms) => { this.setPerms(p, perms); return Promise.resolve(); },
    };
  }

  /** the scenario query: {"exists": false} for a missing node */
  view(path: string): XsNodeView {
    try {
      return { exists: true, value: this.read(path), perms: this.getPerms(path), children: this.ls(path) };
    } catch (e) {
      if (e instanceof XsError && e.code === "ENOENT") return { exists: false };
      throw e;
    }
  }

  close(): void {
    this.core.disconnect(this.conn);
  }
}

/** A client over the Unix socket (XENSTORED_PATH), one request at a time, each wait bounded. */
export class XsSocketClient {
  private readonly reader = new XsFrameReader();
  private pending: { resolve: (m: XsMessage) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;
  private reqId = 0;

  private constructor(private readonly sock: Socket, private readonly timeoutMs: number) {
    sock.on("data", (d: Buffer) => {
      try {
        this.reader.push(d, (m) => {
          if (m.type === XS_WATCH_EVENT) return;
          const p = this.pending;
          this.pending = undefined;
          p?.resolve({ ...m, payload: Buffer.from(m.payload) });
        });
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
      }
    });
    sock.on("error", (e) => { this.fail(e); });
    sock.on("close", () => { this.fail(new Error("xenstored closed the connection")); });
  }

  private fail(e: Error): void {
    this.failed ??= e;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  static open(path: string, timeoutMs = 5000): Promise<XsSocketClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      const t = setTimeout(() => { s.destroy(); reject(new Error(`${path}: no answer within ${timeoutMs} ms`)); }, timeoutMs);
      s.once("connect", () => { clearTimeout(t); resolve(new XsSocketClient(s, timeoutMs)); });
      s.once("error", (e) => { clearTimeout(t); reject(new Error(`${path}: ${e.message}`)); });
    });
  }

  private async call(type: number, payload: Buffer): Promise<Buffer> {
    if (this.failed !== undefined) throw this.failed;
    const reqId = ++this.reqId;
    const m = await new Promise<XsMessage>((resolve, reject) => {
      const t = setTimeout(() => { this.pending = undefined; reject(new Error(`no reply within ${this.timeoutMs} ms`)); }, this.timeoutMs);
      this.pending = { resolve: (x) => { clearTimeout(t); resolve(x); }, reject: (e) => { clearTimeout(t); reject(e); } };
      this.sock.write(frame(type, reqId, 0, payload));
    });
    if (m.type === XS_ERROR) throw errorOf(m.payload);
    return m.payload;
  }

  async read(path: string): Promise<string> { return (await this.call(XS_READ, z(path))).toString("latin1"); }
  /** null for a missing node (what src/toolstack's SupervisorStore.read answers) */
  async readOrNull(path: string): Promise<string | null> {
    try {
      return await this.read(path);
    } catch (e) {
      if (e instanceof XsError && e.code === "ENOENT") return null;
      throw e;
    }
  }
  async write(path: string, value: string): Promise<void> { await this.call(XS_WRITE, Buffer.concat([z(path), Buffer.from(value, "latin1")])); }
  async rm(path: string): Promise<void> { await this.call(XS_RM, z(path)); }
  async mkdir(path: string): Promise<void> { await this.call(XS_MKDIR, z(path)); }
  async setPerms(path: string, perms: readonly string[]): Promise<void> { await this.call(XS_SET_PERMS, z(path, ...perms)); }
  async ls(path: string): Promise<string[]> {
    try {
      return list(await this.call(XS_DIRECTORY, z(path)));
    } catch (e) {
      if (!(e instanceof XsError) || e.code !== "E2BIG") throw e;
    }
    const parts: Buffer[] = [];
    for (let off = 0, done = false; !done;) {
      const p = await this.call(XS_DIRECTORY_PART, z(path, String(off)));
      const r = pagePart(p);
      parts.push(...r.names.map((n) => Buffer.from(n, "latin1")));
      off += r.bytes;
      done = r.done;
    }
    return parts.map((b) => b.toString("latin1"));
  }
  async getPerms(path: string): Promise<string[]> { return list(await this.call(XS_GET_PERMS, z(path))); }

  close(): void {
    this.sock.destroy();
  }
}
