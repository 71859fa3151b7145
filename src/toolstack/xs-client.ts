// The toolstack's own xenstore connection: a dom0 client of an in-process XenstoreCore, speaking the
// wire messages (READ, WRITE, MKDIR, RM, SET_PERMS) as libxenstore would, answered synchronously.
// It serves as the XsWriter of writeLayout and the SupervisorStore of DeviceModelProcess.
import { XS_ERROR, XS_MKDIR, XS_READ, XS_RM, XS_SET_PERMS, XS_WRITE } from "../../abi/xen/xs_wire.js";
import type { XenstoreCore } from "../xenstore/core.js";
import type { XsConnection } from "../xenstore/connection.js";
import type { XsWriter } from "./layout.js";
import type { SupervisorStore } from "./supervisor.js";

export class XsClientError extends Error {
  constructor(
    /** xenstored's errno name ("ENOENT", "EACCES", ...) */
    readonly code: string,
    readonly op: string,
    readonly path: string,
  ) {
    super(`xenstore ${op} ${path}: ${code}`);
    this.name = "XsClientError";
  }
}

const z = (s: string): Buffer => Buffer.from(`${s}\0`, "utf8");

/** Runs a synchronous call as a promise: a throw becomes the rejection. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

export class XsDirectClient implements XsWriter, SupervisorStore {
  private readonly conn: XsConnection;
  private reply: { type: number; payload: Buffer } | null = null;
  private reqId = 0;

  constructor(private readonly core: XenstoreCore) {
    this.conn = core.connect(0, {
      reply: (type, _reqId, _txId, payload) => {
        this.reply = { type, payload };
      },
      event: () => undefined,
      close: () => undefined,
    });
  }

  private call(type: number, op: string, path: string, payload: Buffer): Buffer {
    this.reply = null;
    this.core.process(this.conn, type, ++this.reqId, 0, payload);
    const r = this.reply as { type: number; payload: Buffer } | null;
    if (r === null) throw new XsClientError("EIO", op, path);
    if (r.type === XS_ERROR) throw new XsClientError(r.payload.toString("utf8").replace(/\0$/, ""), op, path);
    return r.payload;
  }

  /** The node's value, or null when it does not exist. */
  readSync(path: string): string | null {
    try {
      return this.call(XS_READ, "read", path, z(path)).toString("utf8");
    } catch (e) {
      if (e instanceof XsClientError && e.code === "ENOENT") return null;
      throw e;
    }
  }

  read(path: string): Promise<string | null> {
    return settle(() => this.readSync(path));
  }

  write(path: string, value: string): Promise<void> {
    return settle(() => {
      this.call(XS_WRITE, "write", path, Buffer.concat([z(path), Buffer.from(value, "utf8")]));
    });
  }

  mkdir(path: string): Promise<void> {
    return settle(() => {
      this.call(XS_MKDIR, "mkdir", path, z(path));
    });
  }

  setPerms(path: string, perms: readonly string[]): Promise<void> {
    return settle(() => {
      this.call(XS_SET_PERMS, "set_perms", path, Buffer.concat([z(path), ...perms.map(z)]));
    });
  }

  /** Removes a subtree; a node that does not exist is no error (libxl__xs_rm_checked). */
  rm(path: string): Promise<void> {
    return settle(() => {
      try {
        this.call(XS_RM, "rm", path, z(path));
      } catch (e) {
        if (!(e instanceof XsClientError && e.code === "ENOENT")) throw e;
      }
    });
  }

  close(): void {
    this.core.disconnect(this.conn);
  }
}
