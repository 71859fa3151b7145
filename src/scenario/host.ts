// What the runner needs from the fake: the hypercall, read-only state queries, guest and emulator actions.
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { PrivcmdDevice } from "../privcmd/index.js";
import type { DmOpBuf } from "../privcmd/types.js";
import type { EmulatorStep, GuestStep, QueryArgs, QueryKind } from "./types.js";
import type { JsonObject } from "./values.js";

export type Arch = "x86_64" | "i386" | "arm64" | "arm32";

export interface ScenarioCodec {
  encode(type: string, value: object, opts?: { arch?: Arch }): Uint8Array;
  decode(type: string, bytes: Uint8Array, opts?: { arch?: Arch; mode?: "strict" | "hypervisor" }): unknown;
}

/** A plain-data answer: numbers, bigints, strings, booleans, null, arrays and objects of those. */
export type QueryResult = Record<string, unknown>;

export interface ScenarioHost {
  /** `nrBufs` (default bufs.length) may exceed bufs.length: the missing descriptors cannot be read. */
  dm_op(caller: number, domid: number, bufs: DmOpBuf[], nrBufs?: number): number;
  /** Throws HostUnsupported for a query this host cannot answer. */
  query(kind: QueryKind, args: QueryArgs): QueryResult;
  guest?(step: GuestStep): QueryResult;
  emulator?(step: EmulatorStep): QueryResult;
  /** Why the last dm_op failed, if the host knows. */
  explain?(): string | undefined;
  /** Guest-physical memory written (`write`) or read (`read` bytes) directly, as a toolstack would. */
  ram?(domid: number, addr: bigint, write: Uint8Array | undefined, read: number | undefined): QueryResult;
  /**
   * A guest access that waits, at most `timeoutMs`, for a device model in another process to answer;
   * `gone` resolves (with why) if that process ends first.
   */
  guestLive?(step: GuestStep, timeoutMs: number, gone?: Promise<string>): Promise<QueryResult>;
  /** What a socket server needs to serve this host to a device model: its privcmd device and hypervisor. */
  served?(abi: Arch): { device: PrivcmdDevice; hv?: Hypervisor };
}

export type HostFactory = (world: JsonObject) => ScenarioHost;

/** The host cannot do what a step asks (a step result, not an invalid file). */
export class HostUnsupported extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HostUnsupported";
  }
}
