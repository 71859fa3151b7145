// The xenstore nodes libxl writes for an HVM guest before its device model starts, as data: the
// domain's directories with their permissions, the /vm entries, the build results and what the device
// model spawn adds. Permissions are in xenstore's wire spelling: the first entry is the owner and the
// default for everyone else (n none, r read, w write, b both), then per-domain exceptions.
// mirrors libxl_create.c:libxl__domain_make, libxl__domain_build (HVM vments/localents),
// store_libxl_entry; libxl_dom.c:libxl__build_post; libxl_domain.c:libxl__domain_rename;
// libxl_dm.c:libxl__spawn_local_dm
import { resolveGuest, type HvmGuest, type HvmGuestInput } from "./config.js";

export interface XsNode {
  path: string;
  /** absent: the node is made (mkdir) or left as it is */
  value?: string;
  /** absent: inherited from the parent, as xenstored does for a node created by a write */
  perms?: readonly string[];
}

/** /local/domain/<domid>: libxl__xs_get_dompath */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/** /local/domain/0/device-model/<domid>: DEVICE_MODEL_XS_PATH(LIBXL_TOOLSTACK_DOMID, domid) */
export function deviceModelPath(domid: number): string {
  return `/local/domain/0/device-model/${domid}`;
}

/** Where QEMU records its state ("running" once its vCPUs run). */
export function deviceModelStatePath(domid: number): string {
  return `${deviceModelPath(domid)}/state`;
}

/** libxl_device_model_version_to_string(LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN) */
const DM_VERSION = "qemu_xen";
/** libxl_bios_type_to_string(LIBXL_BIOS_TYPE_SEABIOS), the qemu_xen default */
const BIOS = "seabios";

/**
 * The nodes in the order libxl writes them. `startTime` is `start_time` in /vm (seconds since the
 * epoch with two decimals, as libxl__domain_build prints gettimeofday()).
 */
export function hvmDomainLayout(input: HvmGuestInput | HvmGuest, startTime = Date.now() / 1000): XsNode[] {
  const g = resolveGuest(input);
  const dom = domainPath(g.domid);
  const vm = `/vm/${g.uuid}`;
  const libxl = `/libxl/${g.domid}`;
  const noperm = ["n0"];
  const roperm = ["n0", `r${g.domid}`];
  const rwperm = [`n${g.domid}`];
  const nodes: XsNode[] = [
    // libxl__domain_make, one transaction
    { path: dom, perms: roperm },
    { path: vm, perms: roperm },
    { path: libxl, perms: noperm },
    { path: `${libxl}/device`, perms: noperm },
    { path: `${dom}/vm`, value: vm },
    // libxl__domain_rename(domid, old name none, new name)
    { path: `${dom}/name`, value: g.name },
    { path: `${vm}/name`, value: g.name },
    { path: `${dom}/cpu`, perms: roperm },
    { path: `${dom}/memory`, perms: roperm },
    { path: `${dom}/device`, perms: roperm },
    { path: `${dom}/device/suspend/event-channel`, perms: rwperm },
    { path: `${dom}/control`, perms: roperm },
    { path: `${dom}/hvmloader`, perms: roperm },
    ...["shutdown", "feature-poweroff", "feature-reboot", "feature-suspend", "feature-s3", "feature-s4", "sysrq"].map(
      (n): XsNode => ({ path: `${dom}/control/${n}`, perms: rwperm }),
    ),
    ...["data", "drivers", "feature", "attr", "error"].map((n): XsNode => ({ path: `${dom}/${n}`, perms: rwperm })),
    { path: `${vm}/uuid`, value: g.uuid },
    { path: `${vm}/name`, value: g.name },
    { path: `${dom}/control/platform-feature-multiprocessor-suspend`, value: "1" },
    { path: `${dom}/control/platform-feature-xs_reset_watches`, value: "1" },
    { path: `${libxl}/type`, value: "hvm" },
    // store_libxl_entry
    { path: `${libxl}/dm-version`, value: DM_VERSION },
    // libxl__spawn_local_dm, before QEMU runs
    { path: `${dom}/hvmloader/bios`, value: BIOS },
    // qemu-xen: memory relocation stays off so the MMIO hole can grow
    { path: `${dom}/hvmloader/allow-memory-relocate`, value: "0" },
    { path: deviceModelPath(g.domid) },
  ];
  return [...nodes, ...buildPost(g, dom, vm, startTime)];
}

// libxl__domain_build's HVM entries, written by libxl__build_post (one transaction), which libxl runs
// before the device model is spawned
function buildPost(g: HvmGuest, dom: string, vm: string, startTime: number): XsNode[] {
  const maxMemKb = g.memoryMb * 1024 + g.videoMemKb;
  // libxl__get_targetmem_fudge: video RAM (plus LIBXL_MAXMEM_CONSTANT when maxmem > target; equal here)
  const targetKb = maxMemKb - g.videoMemKb;
  const local: XsNode[] = [
    { path: `${dom}/memory/static-max`, value: String(maxMemKb) },
    { path: `${dom}/memory/target`, value: String(targetKb) },
    { path: `${dom}/memory/videoram`, value: String(g.videoMemKb) },
    { path: `${dom}/domid`, value: String(g.domid) },
    { path: `${dom}/store/port`, value: String(g.storePort) },
    { path: `${dom}/store/ring-ref`, value: String(g.storeMfn) },
  ];
  for (let i = 0; i < g.vcpus; i++) {
    local.push({ path: `${dom}/cpu/${i}/availability`, value: i < g.availVcpus ? "online" : "offline" });
  }
  local.push(
    { path: `${dom}/platform/acpi`, value: g.acpi ? "1" : "0" },
    { path: `${dom}/platform/acpi_s3`, value: g.acpiS3 ? "1" : "0" },
    { path: `${dom}/platform/acpi_s4`, value: g.acpiS4 ? "1" : "0" },
    { path: `${dom}/platform/acpi_laptop_slate`, value: "0" },
    { path: `${dom}/platform/device-model`, value: DM_VERSION },
  );
  const vmEntries: XsNode[] = [
    { path: `${vm}/rtc/timeoffset`, value: g.timeoffset },
    { path: `${vm}/image/ostype`, value: "hvm" },
    { path: `${vm}/start_time`, value: startTime.toFixed(2) },
  ];
  return [...local, ...vmEntries];
}

/** What writing a layout needs from a xenstore connection (the toolstack's, dom0). */
export interface XsWriter {
  mkdir(path: string): Promise<void>;
  write(path: string, value: string): Promise<void>;
  setPerms(path: string, perms: readonly string[]): Promise<void>;
}

/** Writes the nodes in order: mkdir or write, then the permissions where the node has some. */
export async function writeLayout(xs: XsWriter, nodes: readonly XsNode[]): Promise<void> {
  for (const n of nodes) {
    if (n.value === undefined) await xs.mkdir(n.path);
    else await xs.write(n.path, n.value);
    if (n.perms !== undefined) await xs.setPerms(n.path, n.perms);
  }
}
