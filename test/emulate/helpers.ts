// Shared setup for the emulation tests: a fake host, DMOPs through encoded buffers and the dispatcher.
import { decode, encode, type CValue } from "../../src/codec/index.js";
import { guestOf, type GuestEmulator, type HostOptions } from "../../src/hypervisor/emulate.js";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import type { WorldConfig } from "../../src/hypervisor/world.js";

export const DOM0 = 0;
export const GUEST = 1;

export function world(extra: Partial<WorldConfig> = {}): WorldConfig {
  return { domains: [{ domid: GUEST, vcpus: 2 }], ...extra };
}

/** One DMOP built from C fields; returns rc and the decoded buffer after the call. */
export function dmop(hv: Hypervisor, member: string, fields: Record<string, unknown>, caller = DOM0, domid = GUEST): { rc: number; out: CValue } {
  const bytes = encode("xen_dm_op", { op: `XEN_DMOP_${member}`, u: { [member]: fields } });
  const rc = hv.dm_op(caller, domid, [{ bytes }]);
  const out = decode("xen_dm_op", bytes, { mode: "hypervisor" });
  const u = out.u as Record<string, CValue>;
  return { rc, out: u[member] ?? {} };
}

export function ok(r: { rc: number; out: CValue }): CValue {
  if (r.rc !== 0) throw new Error(`dm_op failed: rc ${r.rc}`);
  return r.out;
}

export interface Setup {
  hv: Hypervisor;
  guest: GuestEmulator;
}

export function host(w: WorldConfig = world(), opts: HostOptions = {}): Setup {
  const hv = new Hypervisor(w);
  return { hv, guest: guestOf(hv, opts) };
}

/** create_ioreq_server; returns the id. */
export function createServer(hv: Hypervisor, handleBufioreq = 0, caller = DOM0): number {
  return ok(dmop(hv, "create_ioreq_server", { handle_bufioreq: handleBufioreq }, caller)).id as number;
}

export function mapRange(hv: Hypervisor, id: number, type: "PORT" | "MEMORY" | "PCI", start: bigint | number, end: bigint | number, caller = DOM0): void {
  ok(dmop(hv, "map_io_range_to_ioreq_server", { id, type: `XEN_DMOP_IO_RANGE_${type}`, start: BigInt(start), end: BigInt(end) }, caller));
}

export function setState(hv: Hypervisor, id: number, enabled: boolean, caller = DOM0): void {
  ok(dmop(hv, "set_ioreq_server_state", { id, enabled: enabled ? 1 : 0 }, caller));
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
