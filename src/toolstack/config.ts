// The part of a libxl domain configuration that decides how an HVM guest's QEMU device model is started
// and what xenstore holds for the domain, with libxl's defaults filled in.
// mirrors libxl_create.c:libxl__domain_build_info_setdefault (HVM, device_model_version qemu_xen)

export type VgaKind = "cirrus" | "std" | "none";

/** What a caller may give; everything left out takes libxl's default. */
export interface HvmGuestInput {
  domid: number;
  /** c_info->name (default "guest<domid>") */
  name?: string;
  /** c_info->uuid as 8-4-4-4-12 hex (default derived from the domid, so runs are repeatable) */
  uuid?: string;
  /** The guest's RAM in MiB, what QEMU gets as `-m` (max_memkb - video_memkb). */
  memoryMb: number;
  /** b_info->max_vcpus (default 1); `-smp` is given only above 1, as libxl does */
  vcpus?: number;
  /** vCPUs online at boot (default all); fewer gives `-smp N,maxcpus=M` */
  availVcpus?: number;
  /** u.hvm.vga.kind (default cirrus) */
  vga?: VgaKind;
  /** video_memkb (default 8 MiB for cirrus, 16 MiB for std, 0 for none) */
  videoMemKb?: number;
  /** u.hvm.serial_list: one `-serial` each (default none) */
  serial?: readonly string[];
  /** u.hvm.boot (default "cda") */
  boot?: string;
  /** u.hvm.acpi (default true); false gives `-no-acpi` */
  acpi?: boolean;
  acpiS3?: boolean;
  acpiS4?: boolean;
  /** u.hvm.xen_platform_pci (default true): `-machine xenfv`; false: `pc,accel=xen` */
  xenPlatformPci?: boolean;
  /** u.hvm.timeoffset, seconds as a string (default "") */
  timeoffset?: string;
  /** libxl__run_dir_path(), where the QMP sockets live (default /var/run/xen) */
  runDir?: string;
  /** Start with the vCPUs held (`-S`) until QMP `cont` (default true). */
  paused?: boolean;
  /** b_info->extra: appended before `-machine` */
  extra?: readonly string[];
  /** b_info->extra_hvm: appended right after the machine argument */
  extraHvm?: readonly string[];
  /** The toolstack domain's store event channel and ring mfn (state->store_port, store_mfn) */
  storePort?: number;
  storeMfn?: number;
}

/** The same with every default resolved. */
export interface HvmGuest {
  domid: number;
  name: string;
  uuid: string;
  memoryMb: number;
  vcpus: number;
  availVcpus: number;
  vga: VgaKind;
  videoMemKb: number;
  serial: readonly string[];
  boot: string;
  acpi: boolean;
  acpiS3: boolean;
  acpiS4: boolean;
  xenPlatformPci: boolean;
  timeoffset: string;
  runDir: string;
  paused: boolean;
  extra: readonly string[];
  extraHvm: readonly string[];
  storePort: number;
  storeMfn: number;
}

export class ToolstackConfigError extends Error {
  constructor(
    /** the configuration field, as named in HvmGuestInput */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "ToolstackConfigError";
  }
}

// mirrors libxl_create.c:libxl__domain_build_info_setdefault — the video RAM each card gets and needs
const VIDEO_MEMKB: Record<VgaKind, { dflt: number; min: number }> = {
  cirrus: { dflt: 8 * 1024, min: 8 * 1024 },
  std: { dflt: 16 * 1024, min: 16 * 1024 },
  none: { dflt: 0, min: 0 },
};

/** A domid a guest may have (libxl_domid_valid_guest: 1..DOMID_FIRST_RESERVED-1). */
const MAX_GUEST_DOMID = 0x7fef;
/** HVM_MAX_VCPUS */
const MAX_VCPUS = 128;

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ToolstackConfigError(field, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function bool(field: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new ToolstackConfigError(field, `must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function strings(field: string, v: unknown): readonly string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw new ToolstackConfigError(field, "must be an array of strings");
  }
  return [...v];
}

function text(field: string, v: unknown, dflt: string, pattern?: RegExp): string {
  if (v === undefined) return dflt;
  if (typeof v !== "string" || (pattern !== undefined && !pattern.test(v))) {
    throw new ToolstackConfigError(field, `bad value ${JSON.stringify(v)}`);
  }
  return v;
}

/** Fills libxl's defaults in and checks every field; a bad one is a ToolstackConfigError naming it. */
export function resolveGuest(input: HvmGuestInput): HvmGuest {
  const domid = int("domid", input.domid, 1, MAX_GUEST_DOMID);
  const vcpus = int("vcpus", input.vcpus ?? 1, 1, MAX_VCPUS);
  const vga = text("vga", input.vga, "cirrus", /^(cirrus|std|none)$/) as VgaKind;
  const video = VIDEO_MEMKB[vga];
  const videoMemKb = int("videoMemKb", input.videoMemKb ?? video.dflt, video.min, 1 << 30);
  if (vga === "none" && videoMemKb !== 0) throw new ToolstackConfigError("videoMemKb", "must be 0 without a VGA");
  return {
    domid,
    name: text("name", input.name, `guest${domid}`, /^[^\0/]{1,64}$/),
    uuid: text("uuid", input.uuid, defaultUuid(domid), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
    // HVM guests below 1 MiB have no room for the firmware; the top is QEMU's own limit for i386 (4 TiB).
    memoryMb: int("memoryMb", input.memoryMb, 1, 4 << 20),
    vcpus,
    availVcpus: int("availVcpus", input.availVcpus ?? vcpus, 1, vcpus),
    vga,
    videoMemKb,
    serial: strings("serial", input.serial),
    boot: text("boot", input.boot, "cda", /^[a-z]{1,8}$/),
    acpi: bool("acpi", input.acpi, true),
    acpiS3: bool("acpiS3", input.acpiS3, true),
    acpiS4: bool("acpiS4", input.acpiS4, true),
    xenPlatformPci: bool("xenPlatformPci", input.xenPlatformPci, true),
    timeoffset: text("timeoffset", input.timeoffset, "", /^-?[0-9]*$/),
    runDir: text("runDir", input.runDir, "/var/run/xen", /^\/[^\0,]*$/),
    paused: bool("paused", input.paused, true),
    extra: strings("extra", input.extra),
    extraHvm: strings("extraHvm", input.extraHvm),
    storePort: int("storePort", input.storePort ?? 1, 0, 0xffffffff),
    // xg_dom_x86.c: special_pfn(SPECIALPAGE_XENSTORE) = 0xff000 - 8 + 4
    storeMfn: int("storeMfn", input.storeMfn ?? 0xfeffc, 0, Number.MAX_SAFE_INTEGER),
  };
}

function defaultUuid(domid: number): string {
  const hex = domid.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${hex}`;
}
