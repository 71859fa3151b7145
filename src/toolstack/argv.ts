// The QEMU command line and environment libxl uses for an HVM guest's device model (qemu-xen, not in a
// stub domain, no disks, NICs, USB, sound, SPICE or SDL; VNC off).
// mirrors libxl_dm.c:libxl__build_device_model_args_new (RELEASE-4.17.7)
import { resolveGuest, type HvmGuest, type HvmGuestInput } from "./config.js";

/** Where Debian's qemu-system-xen puts the device model. */
export const QEMU_XEN_BINARY = "/usr/libexec/xen-qemu-system-i386";

export interface DeviceModelCommand {
  /** argv[0] is the binary */
  argv: string[];
  /** variables libxl adds to the device model's environment */
  env: Record<string, string>;
  /** the two QMP sockets QEMU listens on */
  qmpPath: string;
  libxenstatPath: string;
}

/** libxl__qemu_qmp_path */
export function qmpPath(runDir: string, domid: number): string {
  return `${runDir}/qmp-libxl-${domid}`;
}

/** libxl__sizekb_to_mb: rounds up */
function sizekbToMb(kb: number): number {
  return Math.ceil(kb / 1024);
}

// mirrors libxl_dm.c: the -device argument per u.hvm.vga.kind
const VGA_DEVICE: Record<HvmGuest["vga"], ((videoMemKb: number) => string) | null> = {
  std: (kb) => `VGA,vgamem_mb=${sizekbToMb(kb)}`,
  cirrus: (kb) => `cirrus-vga,vgamem_mb=${sizekbToMb(kb)}`,
  none: null,
};

/**
 * The device model's argv and environment, in libxl's order. With `paused` (the default) QEMU holds its
 * vCPUs (`-S`) until QMP `cont`; libxl does that when it pre-opens the QMP socket, here the socket is a
 * path QEMU creates.
 */
export function buildDeviceModelArgs(input: HvmGuestInput | HvmGuest, binary = QEMU_XEN_BINARY): DeviceModelCommand {
  const g = resolveGuest(input);
  const qmp = qmpPath(g.runDir, g.domid);
  const libxenstat = `${g.runDir}/qmp-libxenstat-${g.domid}`;
  const a: string[] = [binary, "-xen-domid", String(g.domid), "-no-shutdown"];
  a.push("-chardev", `socket,id=libxl-cmd,path=${qmp},server=on,wait=off`);
  if (g.paused) a.push("-S");
  a.push("-mon", "chardev=libxl-cmd,mode=control");
  a.push("-chardev", `socket,id=libxenstat-cmd,path=${libxenstat},server=on,wait=off`);
  a.push("-mon", "chardev=libxenstat-cmd,mode=control");
  a.push("-nodefaults", "-no-user-config");
  a.push("-name", g.name);
  a.push("-vnc", "none");
  a.push("-display", "none");
  for (const s of g.serial) a.push("-serial", s);
  const vga = VGA_DEVICE[g.vga];
  if (vga !== null) a.push("-device", vga(g.videoMemKb));
  a.push("-boot", `order=${g.boot}`);
  if (!g.acpi) a.push("-no-acpi");
  if (g.vcpus > 1) {
    a.push("-smp", g.availVcpus < g.vcpus ? `${g.availVcpus},maxcpus=${g.vcpus}` : String(g.vcpus));
  }
  // no emulated NICs: tell QEMU not to create any
  a.push("-net", "none");
  a.push(...g.extra);
  a.push("-machine", g.xenPlatformPci ? "xenfv,suppress-vmdesc=on" : "pc,accel=xen,suppress-vmdesc=on");
  a.push(...g.extraHvm);
  a.push("-m", String(g.memoryMb));
  return {
    argv: a,
    // libxl__set_qemu_env_for_xsa_180 (when the caller's environment has no XEN_QEMU_CONSOLE_LIMIT),
    // then XEN_DOMAIN_ID for HVM guests
    env: { XEN_QEMU_CONSOLE_LIMIT: "1048576", XEN_DOMAIN_ID: String(g.domid) },
    qmpPath: qmp,
    libxenstatPath: libxenstat,
  };
}
