// The world a Hypervisor is built from: the `domains` part of a scenario file, parsed and checked.
import type { Arch, PersonaName } from "./persona.js";
import { isPersonaName } from "./persona.js";
import type { PreemptSpec } from "./preempt.js";

export type IntLike = number | bigint | string;
export type AbiName = "x86_64" | "i386" | "arm64" | "arm32";

export interface DomainConfig {
  domid: IntLike;
  type?: "hvm" | "pv";
  control?: boolean;
  hap?: boolean;
  vcpus?: IntLike;
  max_vcpus?: IntLike;
  ram?: [IntLike, IntLike][];
  ioreq_server_pfn?: IntLike;
  nr_ioreq_server_pages?: IntLike;
  /** HVM_PARAM_IOREQ_PFN / HVM_PARAM_BUFIOREQ_PFN (the legacy gfns); 0 = never set. */
  ioreq_pfn?: IntLike;
  bufioreq_pfn?: IntLike;
  device_model?: IntLike;
  target?: IntLike;
  log_dirty?: boolean;
  dying?: boolean;
  /** has_vvga: an emulated VGA (default true for HVM; libxl's vga="none" turns it off). */
  vga?: boolean;
  /** d->max_evtchn_port (libxl's event_channels; default 1023). */
  max_evtchn_port?: IntLike;
  /** d->creation_finished: the domain has been unpaused once (default true). */
  creation_finished?: boolean;
  /** Xen's own platform devices (hvm/world-keys.ts): emulation flags, ACPI port layout, HPET, RTC offset. */
  emulation_flags?: IntLike | string[];
  acpi_ioports_location?: IntLike;
  hpet_enabled?: boolean;
  rtc_timeoffset?: number;
  paddr_bits?: IntLike;
  nr_pirqs?: IntLike;
  /** Arm: number of SPIs of the vGIC (vgic_num_irqs = 32 + nr_spis). */
  nr_spis?: IntLike;
  /** Arm: IRQs already allocated (routed to hardware or used by Xen). */
  allocated_irqs?: IntLike[];
  /** An IOMMU is enabled (relocate_memory then always splits after 16 pages). */
  iommu?: boolean;
  /** The domain holds I/O resources (iomem/ioport permissions or passthrough devices). */
  io_resources?: boolean;
  /** p2m overlays: single gfns or inclusive [first, last] pairs of the named type. */
  paging?: GfnList;
  shared?: GfnList;
  grant_map_rw?: GfnList;
  grant_map_ro?: GfnList;
  ram_ro?: GfnList;
  mmio_direct?: GfnList;
  pod?: GfnList;
  broken?: GfnList;
}

export type GfnList = (IntLike | [IntLike, IntLike])[];

export interface WorldConfig {
  format?: number;
  xen?: PersonaName;
  arch?: Arch;
  abi?: AbiName;
  preempt?: PreemptSpec;
  domains?: DomainConfig[];
}

export class WorldError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "WorldError";
  }
}

export function toBig(v: IntLike, path: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new WorldError(path, `not an integer: ${v}`);
    return BigInt(v);
  }
  const u: unknown = v;
  if (typeof u !== "string") throw new WorldError(path, u === undefined ? "missing" : `not an integer: ${JSON.stringify(u) ?? typeof u}`);
  const s = u.trim();
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) throw new WorldError(path, `not a decimal or 0x integer: "${v}"`);
  return BigInt(s);
}

export function toInt(v: IntLike, path: string, min: number, max: number): number {
  const b = toBig(v, path);
  if (b < BigInt(min) || b > BigInt(max)) throw new WorldError(path, `${b} is outside ${min}..${max}`);
  return Number(b);
}

const domainKeys = new Set<string>([
  "domid", "type", "control", "hap", "vcpus", "max_vcpus", "ram", "ioreq_server_pfn", "nr_ioreq_server_pages",
  "ioreq_pfn", "bufioreq_pfn", "device_model", "target", "log_dirty", "dying", "vga", "max_evtchn_port", "creation_finished", "paddr_bits", "nr_pirqs",
  "nr_spis", "allocated_irqs", "iommu", "io_resources", "paging", "shared", "grant_map_rw", "grant_map_ro", "ram_ro", "mmio_direct",
  "pod", "broken", "emulation_flags", "acpi_ioports_location", "hpet_enabled", "rtc_timeoffset",
]);
const worldKeys = new Set<string>(["format", "xen", "arch", "abi", "preempt", "domains"]);

/** Checks keys and enumerations; throws WorldError naming the field. */
export function checkWorld(w: WorldConfig): void {
  if (!isPlainObject(w)) throw new WorldError("(world)", "expected an object");
  for (const k of Object.keys(w)) if (!worldKeys.has(k)) throw new WorldError(k, "unknown world key");
  if (w.domains !== undefined && !Array.isArray(w.domains)) throw new WorldError("domains", "expected a list of domains");
  if (w.xen !== undefined && !isPersonaName(w.xen)) throw new WorldError("xen", `unknown persona "${String(w.xen)}"`);
  if (w.arch !== undefined && w.arch !== "x86" && w.arch !== "arm") throw new WorldError("arch", `unknown arch "${String(w.arch)}"`);
  const seen = new Set<number>();
  /** stub device model domid -> the guest that names it, and where */
  const stubs = new Map<number, { guest: number; at: string }>();
  (w.domains ?? []).forEach((d, i) => {
    if (!isPlainObject(d)) throw new WorldError(`domains[${i}]`, "expected an object");
    for (const k of Object.keys(d)) if (!domainKeys.has(k)) throw new WorldError(`domains[${i}].${k}`, "unknown domain key");
    const id = toInt(d.domid, `domains[${i}].domid`, 0, 0x7fef);
    if (seen.has(id)) throw new WorldError(`domains[${i}].domid`, `domain ${id} listed twice`);
    seen.add(id);
    if (d.type !== undefined && d.type !== "hvm" && d.type !== "pv") throw new WorldError(`domains[${i}].type`, `must be "hvm" or "pv"`);
    if (d.vga !== undefined && typeof d.vga !== "boolean") throw new WorldError(`domains[${i}].vga`, "must be true or false");
    if (d.device_model !== undefined) {
      // a stub domain has one target (d->target): it cannot serve two guests
      const at = `domains[${i}].device_model`;
      const dm = toInt(d.device_model, at, 0, 0x7fef);
      const other = stubs.get(dm);
      if (other !== undefined) throw new WorldError(at, `domain ${dm} is already the stub device model of domain ${other.guest} (${other.at}); a stub device model serves one guest`);
      stubs.set(dm, { guest: id, at });
    }
  });
  (w.domains ?? []).forEach((d, i) => {
    if (d.target === undefined) return;
    const at = `domains[${i}].target`;
    const t = toInt(d.target, at, 0, 0x7fef);
    const named = stubs.get(toInt(d.domid, `domains[${i}].domid`, 0, 0x7fef));
    if (named !== undefined && named.guest !== t) throw new WorldError(at, `target ${t}, but domain ${named.guest} names this domain its device_model (${named.at})`);
  });
}

function isPlainObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
