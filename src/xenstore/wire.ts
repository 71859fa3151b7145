// struct xsd_sockmsg framing (xs_wire.h): a 16-byte header (type, req_id, tx_id, len, little-endian u32)
// and at most XENSTORE_PAYLOAD_MAX payload bytes.
import { XENSTORE_PAYLOAD_MAX, XS_WATCH_EVENT, XSD_SOCKMSG_SIZE } from "../../abi/xen/xs_wire.js";

export interface XsMessage {
  type: number;
  reqId: number;
  txId: number;
  payload: Buffer;
}

export function frame(type: number, reqId: number, txId: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(XSD_SOCKMSG_SIZE + payload.length);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(reqId, 4);
  b.writeUInt32LE(txId, 8);
  b.writeUInt32LE(payload.length, 12);
  payload.copy(b, XSD_SOCKMSG_SIZE);
  return b;
}

/** a watch event: path and token, each NUL-terminated; req_id and tx_id 0 (xenstored_core.c:send_event) */
export function eventFrame(path: string, token: string): Buffer | undefined {
  const len = path.length + 1 + token.length + 1;
  if (len > XENSTORE_PAYLOAD_MAX) return undefined;
  const b = Buffer.allocUnsafe(XSD_SOCKMSG_SIZE + len);
  b.writeUInt32LE(XS_WATCH_EVENT, 0);
  b.writeUInt32LE(0, 4);
  b.writeUInt32LE(0, 8);
  b.writeUInt32LE(len, 12);
  b.write(path, XSD_SOCKMSG_SIZE, "latin1");
  b[XSD_SOCKMSG_SIZE + path.length] = 0;
  b.write(token, XSD_SOCKMSG_SIZE + path.length + 1, "latin1");
  b[XSD_SOCKMSG_SIZE + len - 1] = 0;
  return b;
}

export class XsFrameError extends Error {
  override readonly name = "XsFrameError";
  constructor(readonly offset: number, message: string) {
    super(`xsd_sockmsg.len at byte offset ${offset}: ${message}`);
  }
}

/**
 * Cuts whole messages out of a byte stream; holds at most one header and one payload
 * (XSD_SOCKMSG_SIZE + XENSTORE_PAYLOAD_MAX bytes). A header announcing more is an XsFrameError
 * (xenstored_core.c:handle_input drops such a client).
 */
export class XsFrameReader {
  private readonly hdr = Buffer.alloc(XSD_SOCKMSG_SIZE);
  private hdrUsed = 0;
  private body: Buffer | undefined;
  private bodyUsed = 0;
  /** bytes of the stream consumed so far */
  consumed = 0;

  /** whether part of a message has arrived */
  get partial(): boolean {
    return this.hdrUsed > 0;
  }

  push(chunk: Buffer, onMessage: (m: XsMessage) => void): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.hdrUsed < XSD_SOCKMSG_SIZE) {
        // whole header and body in the chunk: no copies
        if (this.hdrUsed === 0 && chunk.length - off >= XSD_SOCKMSG_SIZE) {
          const len = chunk.readUInt32LE(off + 12);
          if (len > XENSTORE_PAYLOAD_MAX) throw new XsFrameError(this.consumed + off + 12, `${len} exceeds XENSTORE_PAYLOAD_MAX (${XENSTORE_PAYLOAD_MAX})`);
          if (chunk.length - off - XSD_SOCKMSG_SIZE >= len) {
            const m: XsMessage = {
              type: chunk.readUInt32LE(off), reqId: chunk.readUInt32LE(off + 4), txId: chunk.readUInt32LE(off + 8),
              payload: chunk.subarray(off + XSD_SOCKMSG_SIZE, off + XSD_SOCKMSG_SIZE + len),
            };
            off += XSD_SOCKMSG_SIZE + len;
            this.consumed += XSD_SOCKMSG_SIZE + len;
            onMessage(m);
            continue;
          }
        }
        const n = Math.min(XSD_SOCKMSG_SIZE - this.hdrUsed, chunk.length - off);
        chunk.copy(this.hdr, this.hdrUsed, off, off + n);
        this.hdrUsed += n;
        off += n;
        if (this.hdrUsed < XSD_SOCKMSG_SIZE) break;
        const len = this.hdr.readUInt32LE(12);
        if (len > XENSTORE_PAYLOAD_MAX) throw new XsFrameError(this.consumed + 12, `${len} exceeds XENSTORE_PAYLOAD_MAX (${XENSTORE_PAYLOAD_MAX})`);
        this.body = Buffer.allocUnsafe(len);
        this.bodyUsed = 0;
      }
      const body = this.body!;
      const n = Math.min(body.length - this.bodyUsed, chunk.length - off);
      chunk.copy(body, this.bodyUsed, off, off + n);
      this.bodyUsed += n;
      off += n;
      if (this.bodyUsed < body.length) break;
      const m: XsMessage = { type: this.hdr.readUInt32LE(0), reqId: this.hdr.readUInt32LE(4), txId: this.hdr.readUInt32LE(8), payload: body };
      this.consumed += XSD_SOCKMSG_SIZE + body.length;
      this.hdrUsed = 0;
      this.body = undefined;
      onMessage(m);
    }
  }
}
