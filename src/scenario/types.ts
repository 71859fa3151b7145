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

export const QUERY_KINDS = ["p2m", "server", "claim", "entry_count", "domain", "irq", "event", "msi", "dirty", "cacheattr", "device_model", "xenstore", "serial"] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

export interface QueryArgs {
  domid: number;
  id?: number;
  vcpu?: number;
  first_gfn?: bigint;
  nr?: number;
  internal?: boolean;
  /** xenstore: the node (the caller is `domid`, default 0) */
  path?: string;
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

/** Guest-physical memory read or written directly (as a toolstack or debugger would), no emulation. */
export interface RamStep extends StepBase {
  kind: "ram";
  domid: number;
  addr: bigint;
  write?: Uint8Array;
  read?: number;
  expect?: { hex?: string };
}

/** A query repeated until its expectation holds, or a failure after `timeout_ms`. */
export interface WaitStep extends StepBase {
  kind: "wait";
  query: QueryKind;
  args: QueryArgs;
  until: JsonObject;
  timeout_ms: number;
}

/** `"device_model": "stop"`: SIGTERM, wait for the exit. */
export interface DeviceModelStep extends StepBase {
  kind: "device_model";
  action: "stop";
  expect?: JsonObject;
}

export type Step = DmopStep | PrivcmdStep | QueryStep | GuestStep | EmulatorStep | RamStep | WaitStep | DeviceModelStep | XenstoreStep;
export type StepKind = Step["kind"];

/** The top-level `device_model`: a program started beside the fake, under the shim. */
/** `"device_model": {"qemu": {...}}`: Debian's QEMU started as libxl starts it (scenario/qemu-dm.ts). */
export interface QemuSpec {
  machine: "xenfv" | "pc";
  /** QEMU's -m; defaults to the guest domain's RAM and must agree with it */
  memory_mb?: number;
  args: string[];
  vga?: "cirrus" | "std" | "none";
}

export interface DeviceModelSpec {
  /** with `qemu`: empty (the runner builds QEMU's command line) */
  qemu?: QemuSpec;
  exec: string[];
  env: Record<string, string>;
  /** Polled until it holds before the first step. */
  ready?: { query: QueryKind; args: QueryArgs; expect: JsonObject };
  /** Bound on the ready poll, each guest access's answer and the stop. */
  timeout_ms: number;
}

export interface Scenario {
  name?: string;
  device_model?: DeviceModelSpec;
  /** The world part of the file as written (format, xen, arch, abi, preempt, domains). */
  world: JsonObject;
  steps: Step[];
  /** the top-level `xenstore` key: nodes written before the steps */
  xenstore?: XsSeed;
}

export type { Json, JsonObject, XenstoreStep };
