// The device model command line against what libxl_dm.c:libxl__build_device_model_args_new produces
// at RELEASE-4.17.7 for an HVM guest with xl's defaults (cirrus VGA, no VNC, no NICs, no disks).
import { describe, expect, it } from "vitest";
import { buildDeviceModelArgs, QEMU_XEN_BINARY } from "../../src/toolstack/argv.js";
import { resolveGuest, ToolstackConfigError } from "../../src/toolstack/config.js";

describe("buildDeviceModelArgs", () => {
  it("gives libxl's argv for a 2-vCPU guest, in libxl's order", () => {
    const cmd = buildDeviceModelArgs({ domid: 3, name: "demo", memoryMb: 256, vcpus: 2, serial: ["file:/tmp/s.txt"] });
    expect(cmd.argv).toEqual([
      QEMU_XEN_BINARY,
      "-xen-domid", "3",
      "-no-shutdown",
      "-chardev", "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-3,server=on,wait=off",
      "-S",
      "-mon", "chardev=libxl-cmd,mode=control",
      "-chardev", "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-3,server=on,wait=off",
      "-mon", "chardev=libxenstat-cmd,mode=control",
      "-nodefaults",
      "-no-user-config",
      "-name", "demo",
      "-vnc", "none",
      "-display", "none",
      "-serial", "file:/tmp/s.txt",
      "-device", "cirrus-vga,vgamem_mb=8",
      "-boot", "order=cda",
      "-smp", "2",
      "-net", "none",
      "-machine", "xenfv,suppress-vmdesc=on",
      "-m", "256",
    ]);
    expect(cmd.env).toEqual({ XEN_QEMU_CONSOLE_LIMIT: "1048576", XEN_DOMAIN_ID: "3" });
    expect(cmd.qmpPath).toBe("/var/run/xen/qmp-libxl-3");
  });

  it("has no -smp for one vCPU, and -smp N,maxcpus=M when fewer are online", () => {
    expect(buildDeviceModelArgs({ domid: 1, memoryMb: 64 }).argv).not.toContain("-smp");
    const a = buildDeviceModelArgs({ domid: 1, memoryMb: 64, vcpus: 4, availVcpus: 2 }).argv;
    expect(a[a.indexOf("-smp") + 1]).toBe("2,maxcpus=4");
  });

  it("std VGA gets VGA,vgamem_mb=16, none gets no -device; no platform device is machine pc", () => {
    const std = buildDeviceModelArgs({ domid: 1, memoryMb: 64, vga: "std" }).argv;
    expect(std[std.indexOf("-device") + 1]).toBe("VGA,vgamem_mb=16");
    expect(buildDeviceModelArgs({ domid: 1, memoryMb: 64, vga: "none" }).argv).not.toContain("-device");
    const pc = buildDeviceModelArgs({ domid: 1, memoryMb: 64, xenPlatformPci: false }).argv;
    expect(pc[pc.indexOf("-machine") + 1]).toBe("pc,accel=xen,suppress-vmdesc=on");
  });

  it("puts extra before -machine and extra_hvm after it, -no-acpi without ACPI, no -S unpaused", () => {
    const a = buildDeviceModelArgs({ domid: 2, memoryMb: 64, extra: ["-d", "guest_errors"], extraHvm: ["-global", "x=y"], acpi: false, paused: false, runDir: "/tmp/r" }).argv;
    const m = a.indexOf("-machine");
    expect(a.slice(m - 2, m)).toEqual(["-d", "guest_errors"]);
    expect(a.slice(m + 2, m + 4)).toEqual(["-global", "x=y"]);
    expect(a.slice(-2)).toEqual(["-m", "64"]);
    expect(a).toContain("-no-acpi");
    expect(a).not.toContain("-S");
    expect(a).toContain("socket,id=libxl-cmd,path=/tmp/r/qmp-libxl-2,server=on,wait=off");
  });

  it("refuses bad configuration with the field named", () => {
    const bad: [object, string][] = [
      [{ domid: 0, memoryMb: 64 }, "domid"],
      [{ domid: 0x7ff0, memoryMb: 64 }, "domid"],
      [{ domid: 1, memoryMb: 0 }, "memoryMb"],
      [{ domid: 1, memoryMb: 64, vcpus: 129 }, "vcpus"],
      [{ domid: 1, memoryMb: 64, vcpus: 2, availVcpus: 3 }, "availVcpus"],
      [{ domid: 1, memoryMb: 64, vga: "qxl" }, "vga"],
      [{ domid: 1, memoryMb: 64, vga: "std", videoMemKb: 8192 }, "videoMemKb"],
      [{ domid: 1, memoryMb: 64, name: "a/b" }, "name"],
      [{ domid: 1, memoryMb: 64, runDir: "relative" }, "runDir"],
      [{ domid: 1, memoryMb: 64, serial: "file:x" }, "serial"],
    ];
    for (const [input, field] of bad) {
      const f = (): unknown => resolveGuest(input as never);
      expect(f).toThrow(ToolstackConfigError);
      try {
        f();
      } catch (e) {
        expect((e as ToolstackConfigError).field).toBe(field);
      }
    }
  });
});
