// Emitted records, byte for byte, against golden bytes made by C from the real xen/hvm/ioreq.h.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { attachInProcess } from "../../src/transport/ioreq-inprocess.js";
import { IoreqClient } from "../../src/emulator/client.js";
import { bufSlotBytes, syncSlotBytes } from "../../src/hypervisor/ioreq-send.js";
import { mapResource } from "../../src/hypervisor/resource.js";
import { createServer, dmop, hex, host, mapRange, ok, setState, GUEST } from "./helpers.js";

interface Golden {
  name: string;
  type: "ioreq_t" | "buf_ioreq_t";
  fields: Record<string, number | string>;
  hex: string;
}

const root = join(import.meta.dirname, "..", "..");
const fixturePath = join(root, "fixtures", "records", "ioreq-records.json");
const golden = JSON.parse(readFileSync(fixturePath, "utf8")) as Golden[];
const G = (name: string): string => {
  const g = golden.find((x) => x.name === name);
  if (g === undefined) throw new Error(`no golden record ${name}`);
  return g.hex;
};

function hasToolchain(): boolean {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
  } catch {
    return false;
  }
  return existsSync("/usr/include/xen/hvm/ioreq.h");
}

describe("golden records from C", () => {
  const native = hasToolchain();
  if (!native && process.env.CI !== "true") {
    console.warn("SKIPPING the ioreq record probe: gcc or libxen-dev (xen/hvm/ioreq.h) is missing");
  }
  it.skipIf(!native && process.env.CI !== "true")("abi/probe/ioreq_records.c regenerates the fixture exactly", () => {
    const dir = mkdtempSync(join(tmpdir(), "ioreq-records-"));
    try {
      const exe = join(dir, "ioreq_records");
      execFileSync("gcc", ["-Wall", "-Werror", "-D__XEN_TOOLS__", "-o", exe, join(root, "abi", "probe", "ioreq_records.c")]);
      const out = execFileSync(exe, { encoding: "utf8" });
      expect(JSON.parse(out)).toEqual(golden);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has every record the emission tests use", () => {
    expect(golden.map((g) => g.name)).toEqual(
      expect.arrayContaining(["pio_write_3f8", "mmio_read_feb00010", "pci_config_read_cfe", "invalidate", "timeoffset_slot_lo", "stdvga_write_q_hi"]),
    );
  });
});

/** A guest with server 0 (bufioreq ATOMIC, pages via acquire_resource, enabled); vCPU0 port 1, vCPU1 port 3. */
function setup(bufioreq = 2) {
  const s = host();
  const id = createServer(s.hv, bufioreq);
  const sync = mapResource(s.hv, 0, GUEST, id, 1).page!;
  const buf = bufioreq !== 0 ? mapResource(s.hv, 0, GUEST, id, 0).page! : null;
  return { ...s, id, sync, buf };
}

describe("emitted sync records match the C bytes", () => {
  it("outb 0x41 to 0x3f8", () => {
    const { hv, guest, id, sync } = setup();
    mapRange(hv, id, "PORT", 0x3f8, 0x3ff);
    setState(hv, id, true);
    const r = guest.pio(GUEST, 0, { port: 0x3f8, size: 1, dir: "write", data: 0x41 });
    expect(r).toEqual({ status: "pending", server: id, vcpu: 0 });
    expect(hex(syncSlotBytes(sync, 0))).toBe(G("pio_write_3f8"));
  });

  it("a 4-byte MMIO read on vCPU 1", () => {
    const { hv, guest, id, sync } = setup();
    mapRange(hv, id, "MEMORY", 0xfeb00000, 0xfeb00fff);
    setState(hv, id, true);
    guest.mmio(GUEST, 1, { addr: 0xfeb00010, size: 4, dir: "read" });
    expect(hex(syncSlotBytes(sync, 1))).toBe(G("mmio_read_feb00010"));
  });

  it("an 8-byte MMIO write", () => {
    const { hv, guest, id, sync } = setup();
    mapRange(hv, id, "MEMORY", 0xfeb00000, 0xfeb00fff);
    setState(hv, id, true);
    guest.mmio(GUEST, 0, { addr: 0xfeb00000, size: 8, dir: "write", data: 0x1122334455667788n });
    expect(hex(syncSlotBytes(sync, 0))).toBe(G("mmio_write_feb00000_q"));
  });

  it("rep outsw from guest memory with df set", () => {
    const { hv, guest, id, sync } = setup();
    mapRange(hv, id, "PORT", 0x1f0, 0x1f7);
    setState(hv, id, true);
    guest.pio(GUEST, 0, { port: 0x1f0, size: 2, dir: "write", count: 16, data_is_ptr: true, data: 0x2000, df: true });
    expect(hex(syncSlotBytes(sync, 0))).toBe(G("pio_rep_outsw_ptr_df"));
  });

  it("a PCI config read through 0xCF8/0xCFE", () => {
    const { hv, guest, id, sync } = setup();
    mapRange(hv, id, "PCI", 0x18, 0x18);
    setState(hv, id, true);
    expect(guest.pio(GUEST, 0, { port: 0xcf8, size: 4, dir: "write", data: 0x80001810 })).toMatchObject({ status: "done" });
    guest.pio(GUEST, 0, { port: 0xcfe, size: 2, dir: "read" });
    expect(hex(syncSlotBytes(sync, 0))).toBe(G("pci_config_read_cfe"));
  });

  it("a write to a p2m_ioreq_server page", () => {
    const { hv, guest, id, sync } = setup();
    ok(dmop(hv, "map_mem_type_to_ioreq_server", { id, type: "HVMMEM_ioreq_server", flags: "XEN_DMOP_IOREQ_MEM_ACCESS_WRITE" }));
    ok(dmop(hv, "set_mem_type", { mem_type: "HVMMEM_ioreq_server", first_pfn: 0x100n, nr: 1 }));
    setState(hv, id, true);
    guest.mem(GUEST, 0, { addr: 0x100008, size: 4, dir: "write", data: 0xdeadbeef });
    expect(hex(syncSlotBytes(sync, 0))).toBe(G("ioreq_server_page_write"));
  });

  it("INVALIDATE after relocate_memory", () => {
    const { hv, guest, id, sync } = setup();
    setState(hv, id, true);
    ok(dmop(hv, "relocate_memory", { size: 1, src_gfn: 0x200n, dst_gfn: 0x300n }));
    expect(guest.resume(GUEST, 0)).toEqual({ status: "pending", server: id, vcpu: 0 });
    expect(hex(syncSlotBytes(sync, 0))).toBe(G("invalidate"));
  });

  it("the response to an inl, as the emulator leaves it", () => {
    const { hv, guest, id, sync } = setup();
    mapRange(hv, id, "PORT", 0x3f8, 0x3ff);
    setState(hv, id, true);
    const raised: number[] = [];
    const client = new IoreqClient({
      ioreqPage: sync,
      vcpus: 2,
      events: { onNotify: () => () => undefined, notify: (p) => raised.push(p) },
    });
    guest.pio(GUEST, 0, { port: 0x3f8, size: 4, dir: "read" });
    expect(client.poll()).toBe(1); // taken (INPROCESS) and queued for the iterator
    expect(sync[30]! & 0x0f).toBe(2);
    return (async () => {
      const req = await client.next();
      expect(req).toMatchObject({ slot: "sync", vcpu: 0, addr: 0x3f8n, size: 4, dir: 1 });
      client.respond(req!, 0x12345678);
      expect(hex(syncSlotBytes(sync, 0))).toBe(G("pio_read_3f8_response"));
      expect(raised).toEqual([1]);
      expect(guest.complete(GUEST, 0)).toMatchObject({ status: "done", value: 0x12345678n });
      expect(sync[30]! & 0x0f).toBe(0); // Xen put the slot back to NONE
    })();
  });
});

describe("emitted buffered slots match the C bytes", () => {
  it("TIMEOFFSET takes two slots", () => {
    const { hv, guest, id, buf } = setup();
    setState(hv, id, true);
    expect(guest.timeOffset(GUEST, -3600n)).toEqual({ failed: 0, sent: [id] });
    expect(hex(bufSlotBytes(buf!, 0))).toBe(G("timeoffset_slot_lo"));
    expect(hex(bufSlotBytes(buf!, 1))).toBe(G("timeoffset_slot_hi"));
    expect(new DataView(buf!.buffer).getUint32(4, true)).toBe(2);
  });

  it("stdvga writes go to the ring", () => {
    const { hv, guest, id, buf } = setup();
    mapRange(hv, id, "MEMORY", 0xa0000, 0xbffff);
    setState(hv, id, true);
    expect(guest.mmio(GUEST, 0, { addr: 0xa0010, size: 2, dir: "write", data: 0x1234 })).toMatchObject({ status: "done" });
    expect(guest.mmio(GUEST, 0, { addr: 0xbffff, size: 1, dir: "write", data: 0xff })).toMatchObject({ status: "done" });
    expect(guest.mmio(GUEST, 0, { addr: 0xb8000, size: 8, dir: "write", data: 0x0102030405060708n })).toMatchObject({ status: "done" });
    expect([0, 1, 2, 3].map((i) => hex(bufSlotBytes(buf!, i)))).toEqual([
      G("stdvga_write_w"),
      G("stdvga_write_b_last"),
      G("stdvga_write_q_lo"),
      G("stdvga_write_q_hi"),
    ]);
  });

  it("an attached client reads the same records back", () => {
    const { hv, guest, id } = setup();
    mapRange(hv, id, "MEMORY", 0xa0000, 0xbffff);
    const client = attachInProcess(hv, { caller: 0, domid: GUEST, id });
    setState(hv, id, true);
    const got: string[] = [];
    void client.serve((r) => {
      got.push(`${r.slot} ${r.type} 0x${r.addr.toString(16)} ${r.size} 0x${r.data.toString(16)}`);
      return undefined;
    });
    guest.mmio(GUEST, 0, { addr: 0xb8000, size: 8, dir: "write", data: 0x0102030405060708n });
    guest.timeOffset(GUEST, 5);
    expect(got).toEqual(["buffered 1 0xb8000 8 0x102030405060708", "buffered 7 0x0 8 0x5"]);
    client.close();
  });
});
