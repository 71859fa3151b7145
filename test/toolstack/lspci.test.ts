// PCI enumeration against a config-space model with xenfv's devices: IDs, classes, functions of a
// multi-function device, BAR sizes found by writing all ones (decoding off meanwhile, BARs restored).
import { describe, expect, it } from "vitest";
import { enumeratePci, formatLspci, type PciConfig } from "../../src/toolstack/lspci.js";

interface Dev {
  regs: Uint8Array;
  /** writable bits of each BAR (0: not implemented) and of the ROM BAR */
  barMask: number[];
  romMask: number;
}

function dev(id: string, cls: number, rev: number, header: number, bars: [number, number][] = [], romMask = 0): Dev {
  const [v, d] = id.split(":").map((x) => parseInt(x, 16)) as [number, number];
  const regs = new Uint8Array(256);
  const dv = new DataView(regs.buffer);
  dv.setUint16(0, v, true);
  dv.setUint16(2, d, true);
  dv.setUint32(8, ((cls << 16) | rev) >>> 0, true);
  regs[0x0e] = header;
  dv.setUint16(4, 0x0007, true);
  const barMask: number[] = [];
  bars.forEach(([flags, mask], i) => {
    dv.setUint32(0x10 + 4 * i, flags >>> 0, true);
    barMask[i] = mask >>> 0;
  });
  return { regs, barMask, romMask };
}

function space(devs: Map<number, Dev>): PciConfig & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    read(bdf, reg, size) {
      const d = devs.get(bdf);
      if (d === undefined) return Promise.resolve(size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);
      const dv = new DataView(d.regs.buffer);
      return Promise.resolve(size === 4 ? dv.getUint32(reg, true) : size === 2 ? dv.getUint16(reg, true) : dv.getUint8(reg));
    },
    write(bdf, reg, size, value) {
      const d = devs.get(bdf)!;
      const dv = new DataView(d.regs.buffer);
      log.push(`${bdf.toString(16)}:${reg.toString(16)}=${(value >>> 0).toString(16)}`);
      const bar = (reg - 0x10) / 4;
      if (size === 4 && Number.isInteger(bar) && bar >= 0 && bar < 6) {
        const m = d.barMask[bar] ?? 0;
        const old = dv.getUint32(reg, true);
        dv.setUint32(reg, ((value & m) | (old & ~m & (m === 0 ? 0 : 0xf))) >>> 0, true);
      } else if (size === 4 && reg === 0x30) {
        dv.setUint32(reg, (value & (d.romMask | 1)) >>> 0, true);
      } else if (size === 2) dv.setUint16(reg, value, true);
      return Promise.resolve();
    },
  };
}

const xenfv = (): Map<number, Dev> => new Map<number, Dev>([
  [0x00, dev("8086:1237", 0x0600, 0x02, 0x00)],
  [0x08, dev("8086:7000", 0x0601, 0x00, 0x80)],
  [0x09, dev("8086:7010", 0x0101, 0x00, 0x00, [[0, 0], [0, 0], [0, 0], [0, 0], [0xc001, 0xfffffff0]])],
  [0x0b, dev("8086:7113", 0x0680, 0x03, 0x00)],
  [0x10, dev("5853:0001", 0xff80, 0x01, 0x00, [[0xc101, 0xffffff00], [0xf2000008, 0xff000000]])],
  [0x18, dev("1013:00b8", 0x0300, 0x00, 0x00, [[0xf0000008, 0xfe000000], [0xf3000000, 0xfffff000]], 0xffff0000)],
  [0x20, dev("1af4:1000", 0x0200, 0x00, 0x00, [[0xfe00000c, 0xffffc000], [0x1, 0xffffffff]])],
]);

describe("enumeratePci", () => {
  it("finds every function, sizes BARs and the ROM, restores what it wrote", async () => {
    const devs = xenfv();
    const before = new Map([...devs].map(([k, d]) => [k, Buffer.from(d.regs).toString("hex")]));
    const cfg = space(devs);
    const fns = await enumeratePci(cfg);
    expect(fns.map((f) => f.bdf)).toEqual([0x00, 0x08, 0x09, 0x0b, 0x10, 0x18, 0x20]);
    const platform = fns.find((f) => f.vendor === 0x5853)!;
    expect(platform.bars).toEqual([
      { index: 0, kind: "io", is64: false, prefetchable: false, base: 0xc100n, size: 256n },
      { index: 1, kind: "mem", is64: false, prefetchable: true, base: 0xf2000000n, size: 16n << 20n },
    ]);
    const vga = fns.find((f) => f.vendor === 0x1013)!;
    expect(vga.bars.map((b) => b.size)).toEqual([32n << 20n, 4096n]);
    expect(vga.rom).toEqual({ base: 0n, size: 64n << 10n });
    const nic = fns.find((f) => f.vendor === 0x1af4)!;
    expect(nic.bars).toEqual([{ index: 0, kind: "mem", is64: true, prefetchable: true, base: 0x1fe000000n, size: 16n << 10n }]);
    for (const [k, d] of devs) expect(Buffer.from(d.regs).toString("hex")).toBe(before.get(k));
    // decoding was turned off around the sizing (not for the host bridge) and back on
    expect(cfg.log).toContain("18:4=4");
    expect(cfg.log.filter((l) => l.startsWith("0:4="))).toEqual([]);
  });

  it("prints lspci -nn style", async () => {
    const text = formatLspci(await enumeratePci(space(xenfv())));
    expect(text.split("\n").slice(0, 6)).toEqual([
      "00:00.0 Host bridge [0600]: Intel Corporation 440FX - 82441FX PMC [Natoma] [8086:1237] (rev 02)",
      "00:01.0 ISA bridge [0601]: Intel Corporation 82371SB PIIX3 ISA [Natoma/Triton II] [8086:7000]",
      "00:01.1 IDE interface [0101]: Intel Corporation 82371SB PIIX3 IDE [Natoma/Triton II] [8086:7010]",
      "\tRegion 4: I/O ports at c000 [size=16]",
      "00:01.3 Bridge [0680]: Intel Corporation 82371AB/EB/MB PIIX4 ACPI [8086:7113] (rev 03)",
      "00:02.0 Unassigned class [ff80]: XenSource, Inc. Xen Platform Device [5853:0001] (rev 01)",
    ]);
    expect(text).toContain("\tRegion 0: Memory at f0000000 (32-bit, prefetchable) [size=32M]");
    expect(text).toContain("\tExpansion ROM at 0 [size=64K]");
  });
});
