// Trace files (JSON lines) written by `xendm serve --record` and read by `xendm replay`.
import { closeSync, openSync, writeSync } from "node:fs";

export const TRACE_FORMAT = 1;

export interface TraceBuf {
  /** Claimed size, decimal string (u64). */
  size: string;
  flags: number;
  /** Contents as sent, hex; null when they were not sent. */
  in: string | null;
}

export interface TraceHeader {
  xendm_trace: typeof TRACE_FORMAT;
  /** The world the fake was built from (a scenario file's world part). */
  world: unknown;
}

export type TraceCall =
  | { conn: number; kind: "hello"; caller: number; abi: number; name: string }
  | { conn: number; kind: "dm_op"; dom: number; num: number; bufs: TraceBuf[]; ret: number; errno: number; out: string[] }
  | { conn: number; kind: "restrict"; dom: number; flags: number; ret: number; errno: number }
  | { conn: number; kind: "hypercall"; op: string; args: string[]; bufs: TraceBuf[]; ret: number; errno: number; out: string[] }
  | { conn: number; kind: "evtchn_open"; token_given: boolean; ret: number; errno: number }
  | { conn: number; kind: "evtchn_stream"; ret: number; errno: number }
  | { conn: number; kind: "evtchn_ioctl"; op: string; a0: number; a1: number; flags: number; ret: number; errno: number }
  | { conn: number; kind: "mmap_resource"; dom: number; type: number; id: number; idx: number; num: string; flags: number; ret: number; errno: number; frames: number; nr_frames: number }
  | { conn: number; kind: "mmapbatch"; dom: number; n: number; first: string; failed: number }
  | TraceAbandoned
  | { conn: number; kind: "close" }
  | { conn: number; kind: "error"; code: number; message: string };

/**
 * A long call its connection closed in the middle of: the request (`of` names its kind, with that
 * kind's fields), the passes it made and its buffers as they were left. It has no result.
 */
export type TraceAbandoned =
  | { conn: number; kind: "abandoned"; of: "dm_op"; dom: number; num: number; bufs: TraceBuf[]; passes: number; out: string[] }
  | { conn: number; kind: "abandoned"; of: "hypercall"; op: string; args: string[]; bufs: TraceBuf[]; passes: number; out: string[] };

export type TraceLine = TraceHeader | TraceCall;

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function unhex(s: string, what: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`${what}: not a hex byte string`);
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** Appends one JSON line per call, synchronously (so a killed server leaves whole lines). */
export class TraceWriter {
  readonly #fd: number;
  readonly #owned: boolean;
  #closed = false;
  /** `path` is a file to create, or an open descriptor (such as 2 for stderr) that close() leaves open. */
  constructor(path: string | number, header: TraceHeader) {
    this.#owned = typeof path === "string";
    this.#fd = typeof path === "string" ? openSync(path, "w", 0o600) : path;
    this.write(header);
  }
  write(line: TraceLine): void {
    if (this.#closed) return;
    writeSync(this.#fd, JSON.stringify(line) + "\n");
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) closeSync(this.#fd);
  }
}
