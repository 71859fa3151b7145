// The XenGT flow that map_mem_type_to_ioreq_server was made for (Xen 4.9, 2017), told in process:
// a GPU mediator in dom0 write-protects the guest's GPU page-table pages with p2m_ioreq_server,
// every guest write to them arrives as an ioreq that the mediator applies and answers, guest reads
// run from RAM, and at the end the mediator lets go and the pages are plain RAM again.
// Every DMOP is an encoded struct xen_dm_op handed to the fake hypervisor's dispatcher.
import { decode, dump, encode, type CValue, type DumpLine } from "../codec/index.js";
import { IoreqClient, type IoreqRequest } from "../emulator/client.js";
import { inProcessEvents } from "../transport/ioreq-inprocess.js";
import { guestOf, type AccessResult } from "../hypervisor/emulate.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { syncSlotBytes } from "../hypervisor/ioreq-send.js";
import { IOREQ_TYPE_INVALIDATE } from "../hypervisor/ioreq-record.js";

export const DOM0 = 0;
export const GUEST = 1;
/** The guest's GPU page-table pages (a PPGTT page directory and three page tables). */
export const PT_FIRST_GFN = 0x3000;
export const PT_PAGES = 4;
/** The window of gfns drawn in the p2m pictures. */
export const VIEW_FIRST_GFN = PT_FIRST_GFN - 12;
export const VIEW_GFNS = 32;

export interface DemoDmop {
  op: string;
  fields: Record<string, unknown>;
  rc: number;
  /** buffer 0 as sent, hex */
  sent: string;
  /** the fields Xen wrote back (for ops that return something) */
  out: CValue;
}

export interface DemoIoreq {
  /** the 32 bytes of the vCPU's slot as Xen wrote them */
  bytes: Uint8Array;
  lines: (DumpLine & { note?: string })[];
  request: IoreqRequest;
}

export type DemoStep =
  | { kind: "say"; text: string }
  | { kind: "dmop"; text: string; dmop: DemoDmop }
  | { kind: "p2m"; label: string; types: string[] }
  | { kind: "guest"; text: string; result: AccessResult }
  | { kind: "ioreq"; text: string; ioreq: DemoIoreq }
  | { kind: "emulator"; text: string };

export interface DemoFacts {
  serverId: number;
  ioreqGfn: bigint;
  /** p2m types of the page-table pages before, during and after */
  before: string[];
  during: string[];
  after: string[];
  /** guest writes that arrived as ioreqs (addr, data) */
  trapped: { addr: bigint; data: bigint; size: number }[];
  /** guest reads of the protected pages and whether each made an ioreq */
  reads: { addr: bigint; value: bigint; ioreq: boolean }[];
  /** guest writes after the disclaim that went straight to RAM */
  untrappedAfter: number;
  /** INVALIDATE requests the mediator answered */
  invalidates: number;
  /** the mediator's shadow page table: guest PTE address -> value it installed */
  shadow: Map<bigint, bigint>;
  dmops: { op: string; rc: number }[];
}

export interface DemoResult {
  steps: DemoStep[];
  facts: DemoFacts;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** Annotations for the fields of a write to a protected page. */
function noteFor(path: string, req: IoreqRequest): string | undefined {
  switch (path) {
    case "ioreq.addr":
      return `guest-physical address: gfn ${hex(req.addr >> 12n)}, offset ${hex(req.addr & 0xfffn)} (PTE ${Number((req.addr & 0xfffn) / 8n)})`;
    case "ioreq.data":
      return "the value the guest stored (the new GPU PTE)";
    case "ioreq.count":
      return "one element, no rep prefix";
    case "ioreq.size":
      return "bytes per element";
    case "ioreq.vp_eport":
      return "event channel of vCPU 0: Xen raised it, the mediator answers on it";
    case "ioreq.state":
      return "READY: Xen has finished writing; the vCPU waits";
    case "ioreq.data_is_ptr":
      return "data is the value itself";
    case "ioreq.dir":
      return "a write (the page is read-only for the guest, so only writes trap)";
    case "ioreq.type":
      return "COPY: memory, sent to the claimant with no range lookup";
    default:
      return undefined;
  }
}

export function runXengtDemo(): DemoResult {
  const steps: DemoStep[] = [];
  const say = (text: string): void => {
    steps.push({ kind: "say", text });
  };
  const hv = new Hypervisor({ xen: "4.17", domains: [{ domid: GUEST, vcpus: 1 }] });
  const d = hv.domain(GUEST)!;
  const guest = guestOf(hv);
  const dmops: DemoFacts["dmops"] = [];

  const dmop = (text: string, member: string, fields: Record<string, unknown>): CValue => {
    const bytes = encode("xen_dm_op", { op: `XEN_DMOP_${member}`, u: { [member]: fields } });
    const sent = Buffer.from(bytes).toString("hex");
    const rc = hv.dm_op(DOM0, GUEST, [{ bytes }]);
    const after = decode("xen_dm_op", bytes, { mode: "hypervisor" });
    const out = (after.u as Record<string, CValue>)[member] ?? {};
    dmops.push({ op: member, rc });
    steps.push({ kind: "dmop", text, dmop: { op: member, fields, rc, sent, out } });
    if (rc !== 0) throw new Error(`demo: ${member} failed with rc ${rc}`);
    return out;
  };
  const view = (): string[] => {
    const t: string[] = [];
    for (let g = VIEW_FIRST_GFN; g < VIEW_FIRST_GFN + VIEW_GFNS; g++) t.push(d.p2m.typeOf(g));
    return t;
  };
  const ptTypes = (): string[] => Array.from({ length: PT_PAGES }, (_, i) => d.p2m.typeOf(PT_FIRST_GFN + i));

  say("Domain 1 is an HVM guest with a virtual Intel GPU. Domain 0 runs the GPU mediator (Intel GVT-g, \"XenGT\"): " +
    "it must see every change the guest makes to its GPU page tables, and shadow it before the GPU may use it.");

  // 1. the mediator's ioreq server
  const created = dmop("The mediator creates an ioreq server (no buffered ring: every write must be answered).", "create_ioreq_server", {
    handle_bufioreq: "HVM_IOREQSRV_BUFIOREQ_OFF",
  });
  const id = created.id as number;
  const info = dmop("It asks where the shared ioreq page is: Xen maps it at a gfn from the ioreq page pool.", "get_ioreq_server_info", { id });
  const ioreqGfn = info.ioreq_gfn as bigint;
  const page = d.ioreq.servers[id]!.ioreqPage.page!;
  dmop("It enables the server: Xen writes each vCPU's event channel into its slot and takes the page out of the guest's physmap.", "set_ioreq_server_state", {
    id,
    enabled: 1,
  });

  // The mediator's view of the shared page: plain bytes (as a foreign mapping of the gfn), with the
  // event channel to the guest. Ports come from the slots now that the server is enabled.
  const client = new IoreqClient({ ioreqPage: page, vcpus: d.vcpus.length, events: inProcessEvents(hv, GUEST) });
  const shadow = new Map<bigint, bigint>();
  const trapped: DemoFacts["trapped"] = [];
  let shown = 0;
  let invalidates = 0;
  void client.serve((req) => {
    if (req.type === IOREQ_TYPE_INVALIDATE) {
      invalidates++;
      steps.push({
        kind: "emulator",
        text: `mediator: INVALIDATE on vCPU ${req.vcpu} (type 8, data ${hex(req.data)}): enabling the server took the ioreq page out of the guest's physmap, so Xen asks every emulator to drop its cached guest mappings before the vCPU runs again. Answered.`,
      });
      return undefined;
    }
    trapped.push({ addr: req.addr, data: req.data, size: req.size });
    if (shown < 1) {
      shown++;
      const bytes = syncSlotBytes(page, 0);
      // the slot as Xen wrote it (the client has since marked it INPROCESS)
      bytes[30] = (bytes[30]! & 0xf0) | 1;
      const lines = dump("ioreq_t", bytes).map((l) => {
        const note = noteFor(l.path, req);
        return note === undefined ? l : { ...l, note };
      });
      steps.push({ kind: "ioreq", text: `Xen wrote this ioreq into vCPU 0's slot of the shared page (gfn ${hex(ioreqGfn)}) and raised port ${req.vp_eport}:`, ioreq: { bytes, lines, request: req } });
    }
    // The mediator checks the new PTE, installs its shadow, and completes the guest's write through its
    // own (untrapped) mapping of guest memory.
    shadow.set(req.addr, req.data);
    guest.memoryOf(GUEST).writeUint(req.addr, req.size, req.data);
    steps.push({
      kind: "emulator",
      text: `mediator: PTE ${hex(req.addr)} <- ${hex(req.data)}: checked and installed in the shadow page table, written to guest RAM through its own mapping, answered (IORESP_READY, port ${req.vp_eport}); the vCPU resumes.`,
    });
    return undefined;
  });

  const before = ptTypes();
  steps.push({ kind: "p2m", label: "before", types: view() });

  // 2. claim p2m_ioreq_server and write-protect the page tables
  dmop("It claims the p2m_ioreq_server type for writes: from now on its server receives writes to such pages.", "map_mem_type_to_ioreq_server", {
    id,
    type: "HVMMEM_ioreq_server",
    flags: "XEN_DMOP_IOREQ_MEM_ACCESS_WRITE",
  });
  dmop(`It marks the guest's ${PT_PAGES} GPU page-table pages (gfn ${hex(PT_FIRST_GFN)}-${hex(PT_FIRST_GFN + PT_PAGES - 1)}) p2m_ioreq_server: readable, not writable.`, "set_mem_type", {
    mem_type: "HVMMEM_ioreq_server",
    first_pfn: BigInt(PT_FIRST_GFN),
    nr: PT_PAGES,
  });
  const during = ptTypes();
  steps.push({ kind: "p2m", label: "during", types: view() });

  // 3. the guest programs GPU PTEs
  const ptes: [number, bigint][] = [
    [PT_FIRST_GFN * 0x1000 + 0x10, 0x1_2345_6003n],
    [PT_FIRST_GFN * 0x1000 + 0x18, 0x1_2345_7003n],
    [(PT_FIRST_GFN + 2) * 0x1000 + 0x800, 0x0_00ab_c003n],
  ];
  for (const [addr, value] of ptes) {
    const step: Extract<DemoStep, { kind: "guest" }> = {
      kind: "guest",
      text: `guest vCPU 0 writes ${hex(value)} to the GPU PTE at ${hex(addr)}: the page is read-only, the write faults and Xen turns it into an ioreq.`,
      result: { status: "pending", server: id, vcpu: 0 },
    };
    steps.push(step);
    step.result = guest.mem(GUEST, 0, { addr, size: 8, dir: "write", data: value });
  }

  // 4. reads need no help
  const reads: DemoFacts["reads"] = [];
  for (const [addr] of ptes.slice(0, 2)) {
    const n = trapped.length;
    const r = guest.mem(GUEST, 0, { addr, size: 8, dir: "read" });
    const value = r.status === "done" ? (r.value ?? 0n) : -1n;
    reads.push({ addr: BigInt(addr), value, ioreq: trapped.length !== n });
    steps.push({ kind: "guest", text: `guest reads the PTE at ${hex(addr)}: ${hex(value)}, straight from RAM (the page is readable, no exit, no ioreq).`, result: r });
  }

  // 5. let go
  dmop("The mediator stops tracking: it disclaims the type. Xen turns every p2m_ioreq_server page back into ram_rw.", "map_mem_type_to_ioreq_server", {
    id,
    type: "HVMMEM_ioreq_server",
    flags: 0,
  });
  const after = ptTypes();
  steps.push({ kind: "p2m", label: "after", types: view() });
  const n = trapped.length;
  const r = guest.mem(GUEST, 0, { addr: PT_FIRST_GFN * 0x1000 + 0x20, size: 8, dir: "write", data: 0xdead003n });
  const untrappedAfter = trapped.length === n && r.status === "done" ? 1 : 0;
  steps.push({ kind: "guest", text: `guest writes another PTE at ${hex(PT_FIRST_GFN * 0x1000 + 0x20)}: plain RAM now, no ioreq.`, result: r });
  dmop("The mediator destroys its server.", "destroy_ioreq_server", { id });
  client.close();

  return {
    steps,
    facts: { serverId: id, ioreqGfn, before, during, after, trapped, reads, untrappedAfter, invalidates, shadow, dmops },
  };
}
