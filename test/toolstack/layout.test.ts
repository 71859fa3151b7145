// The xenstore layout against the nodes libxl_create.c:libxl__domain_make, libxl__domain_build and
// libxl_dom.c:libxl__build_post write at RELEASE-4.17.7 for an HVM guest with xl's defaults.
import { describe, expect, it } from "vitest";
import { hvmDomainLayout, writeLayout, deviceModelStatePath, type XsWriter } from "../../src/toolstack/layout.js";

const guest = { domid: 5, name: "g", memoryMb: 128, vcpus: 2, uuid: "12345678-1234-4234-8234-123456789abc" };

function asMap(nodes: ReturnType<typeof hvmDomainLayout>): Map<string, { value?: string; perms?: readonly string[] }> {
  const m = new Map<string, { value?: string; perms?: readonly string[] }>();
  for (const n of nodes) m.set(n.path, { ...m.get(n.path), ...n });
  return m;
}

describe("hvmDomainLayout", () => {
  const m = asMap(hvmDomainLayout(guest, 1700000000.123));

  it("makes the domain, /vm and /libxl directories with libxl's permissions", () => {
    expect(m.get("/local/domain/5")?.perms).toEqual(["n0", "r5"]);
    expect(m.get("/vm/12345678-1234-4234-8234-123456789abc")?.perms).toEqual(["n0", "r5"]);
    expect(m.get("/libxl/5")?.perms).toEqual(["n0"]);
    expect(m.get("/local/domain/5/control/shutdown")?.perms).toEqual(["n5"]);
    expect(m.get("/local/domain/5/device/suspend/event-channel")?.perms).toEqual(["n5"]);
    expect(m.get("/local/domain/5/control")?.perms).toEqual(["n0", "r5"]);
    for (const d of ["data", "drivers", "feature", "attr", "error"]) expect(m.get(`/local/domain/5/${d}`)?.perms).toEqual(["n5"]);
  });

  it("writes the values libxl writes", () => {
    const v = (p: string): string | undefined => m.get(p)?.value;
    expect(v("/local/domain/5/vm")).toBe("/vm/12345678-1234-4234-8234-123456789abc");
    expect(v("/local/domain/5/name")).toBe("g");
    expect(v("/vm/12345678-1234-4234-8234-123456789abc/uuid")).toBe("12345678-1234-4234-8234-123456789abc");
    expect(v("/libxl/5/type")).toBe("hvm");
    expect(v("/libxl/5/dm-version")).toBe("qemu_xen");
    expect(v("/local/domain/5/hvmloader/bios")).toBe("seabios");
    expect(v("/local/domain/5/hvmloader/allow-memory-relocate")).toBe("0");
    // cirrus: 8 MiB of video RAM on top of the guest's 128 MiB
    expect(v("/local/domain/5/memory/static-max")).toBe(String(128 * 1024 + 8192));
    expect(v("/local/domain/5/memory/target")).toBe(String(128 * 1024));
    expect(v("/local/domain/5/memory/videoram")).toBe("8192");
    expect(v("/local/domain/5/domid")).toBe("5");
    expect(v("/local/domain/5/store/ring-ref")).toBe(String(0xfeffc));
    expect(v("/local/domain/5/cpu/0/availability")).toBe("online");
    expect(v("/local/domain/5/cpu/1/availability")).toBe("online");
    expect(m.has("/local/domain/5/cpu/2/availability")).toBe(false);
    expect(v("/local/domain/5/platform/acpi")).toBe("1");
    expect(v("/local/domain/5/platform/acpi_s3")).toBe("1");
    expect(v("/local/domain/5/platform/device-model")).toBe("qemu_xen");
    expect(v("/local/domain/5/control/platform-feature-xs_reset_watches")).toBe("1");
    expect(v("/vm/12345678-1234-4234-8234-123456789abc/image/ostype")).toBe("hvm");
    expect(v("/vm/12345678-1234-4234-8234-123456789abc/rtc/timeoffset")).toBe("");
    expect(v("/vm/12345678-1234-4234-8234-123456789abc/start_time")).toBe("1700000000.12");
    // the device model's directory exists before it starts; its state node does not
    expect(m.has("/local/domain/0/device-model/5")).toBe(true);
    expect(m.has(deviceModelStatePath(5))).toBe(false);
  });

  it("marks vCPUs beyond availVcpus offline", () => {
    const n = asMap(hvmDomainLayout({ ...guest, vcpus: 3, availVcpus: 1 }));
    expect(n.get("/local/domain/5/cpu/1/availability")?.value).toBe("offline");
    expect(n.get("/local/domain/5/cpu/2/availability")?.value).toBe("offline");
  });

  it("writeLayout issues mkdir, write and set-perms in order", async () => {
    const log: string[] = [];
    const xs: XsWriter = {
      mkdir: (p) => { log.push(`mkdir ${p}`); return Promise.resolve(); },
      write: (p, v) => { log.push(`write ${p}=${v}`); return Promise.resolve(); },
      setPerms: (p, perms) => { log.push(`perms ${p} ${perms.join(" ")}`); return Promise.resolve(); },
    };
    await writeLayout(xs, hvmDomainLayout(guest, 0));
    expect(log.slice(0, 3)).toEqual(["mkdir /local/domain/5", "perms /local/domain/5 n0 r5", "mkdir /vm/12345678-1234-4234-8234-123456789abc"]);
    expect(log).toContain("write /local/domain/5/hvmloader/bios=seabios");
  });
});
