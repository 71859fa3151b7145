// The toolstack's xenstore connection against the TypeScript xenstored, and libxl's layout written
// through it
// (the real QEMU against the whole host is test/qemu).
import { describe, expect, it } from "vitest";
import { XenstoreCore } from "../../src/xenstore/core.js";
import { XsDirectClient, XsClientError } from "../../src/toolstack/xs-client.js";
import { hvmDomainLayout, writeLayout } from "../../src/toolstack/layout.js";

describe("XsDirectClient", () => {
  it("writes libxl's layout into xenstored with its permissions; read, rm", async () => {
    const core = new XenstoreCore();
    const xs = new XsDirectClient(core);
    await writeLayout(xs, hvmDomainLayout({ domid: 4, memoryMb: 32, name: "vm4" }, 0));
    expect(await xs.read("/local/domain/4/name")).toBe("vm4");
    expect(await xs.read("/local/domain/4/memory/target")).toBe(String(32 * 1024));
    expect(await xs.read("/local/domain/0/device-model/4")).toBe("");
    expect(await xs.read("/local/domain/4/nope")).toBeNull();
    // the guest may read its domain directory but not write it; it owns control/shutdown
    const guest = core.connect(4, { reply: (t, _r, _x, p) => { last = { t, p: p.toString() }; }, event: () => undefined, close: () => undefined });
    let last = { t: -1, p: "" };
    core.process(guest, 11, 1, 0, Buffer.from("/local/domain/4/name\0x"));
    expect(last.p).toBe("EACCES\0");
    core.process(guest, 11, 2, 0, Buffer.from("/local/domain/4/control/shutdown\0reboot"));
    expect(last.p).toBe("OK\0");
    await xs.rm("/local/domain/4");
    await xs.rm("/local/domain/4");
    expect(await xs.read("/local/domain/4/name")).toBeNull();
    await expect(xs.write("relative/without/home/../x", "1")).rejects.toBeInstanceOf(XsClientError);
    xs.close();
  });
});
