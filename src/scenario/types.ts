// A parsed, checked scenario (see docs/scenarios.md).
import type { Json, JsonObject } from "./values.js";
import type { XenstoreStep } from "./xenstore-steps.js";
import type { XsSeed } from "../xenstore/host.js";

export interface BufFaults {
  /** The write-back into buffer 0 fails as an unwritable page would. */
  copy_out: boolean;
  /** Buffers (by index) whose memory cannot be read. */
  unreadable: number[];
  /** Buffers (by index) whose memory cannot be written. */
  unwritable: number[];
}

export interface BufferSpec {
  /** C-field JSON for buffer 0 (`struct xen_dm_op`). */
  op?: JsonObject;
  /** Raw buffers: after buffer 0 when `op` is given, else all of them. */
  bufs: Uint8Array[];
  /** Buffer 0's size override (truncates, or pads with zeros). */
  size0?: number;
  /** Per-buffer size overrides: the size the descriptor claims; null keeps the real size. */
  sizes?: (number | null)[];
  faults: BufFaults;
}

export interface BufExpect {
  rc?: number;
  out?: JsonObject;
  bufs?: Uint8Array[];
  unchanged?: boolean;
}

interface StepBase {
  index: number;
  note?: string;
}

export interface DmopStep extends StepBase, BufferSpec {
  kind: "dmop";
  caller: number;
  domid: number;
  nr_bufs?: number;
  expect?: BufExpect;
}

export type PrivcmdIoctl = "dm_op" | "restrict" | "hypercall";

export interface PrivcmdStep extends StepBase, BufferSpec {
  kind: "privcmd";
  caller: number;
  fd: string;
  ioctl: PrivcmdIoctl;
  dom: number;
  /** dm_op: privcmd_dm_op.num override. */
  num?: number;
  /** hypercall: the op number (default 41). */
  hypercall: bigint;
  /** hypercall: arg[1] override (nr_bufs). */
  nr_bufs?: bigint;
  expect?: BufExpect & { errno?: number };
}

export const QUERY_KINDS = ["p2m", "server", "claim", "entry_count", "domain", "irq", "event", "msi", "dirty", "cacheattr"] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

export interface QueryArgs {
  domid: number;
  id?: number;
  vcpu?: number;
  first_gfn?: bigint;
  nr?: number;
  internal?: boolean;
}

export interface QueryStep extends StepBase {
  kind: "query";
  query: QueryKind;
  args: QueryArgs;
  expect?: JsonObject;
}

export interface GuestStep extends StepBase {
  kind: "guest";
  domid: number;
  vcpu: number;
  access: "pio" | "mmio" | "mem";
  addr: bigint;
  size: number;
  dir: "read" | "write";
  data?: bigint;
  count?: number;
  df?: boolean;
  data_is_ptr?: boolean;
  expect?: JsonObject;
}

export interface EmulatorStep extends StepBase {
  kind: "emulator";
  domid: number;
  server: number;
  vcpu: number;
  respond?: { data?: bigint; state?: number };
  expect?: JsonObject;
}

export type Step = DmopStep | PrivcmdStep | QueryStep | GuestStep | EmulatorStep | XenstoreStep;
export type StepKind = Step["kind"];

export interface Scenario {
  name?: string;
  /** The world part of the file as written (format, xen, arch, abi, preempt, domains). */
  world: JsonObject;
  steps: Step[];
  /** the top-level `xenstore` key: nodes written before the steps */
  xenstore?: XsSeed;
}

export type { Json, JsonObject, XenstoreStep };
