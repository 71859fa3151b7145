// Enumerating a guest's PCI bus 0 through configuration space, the way firmware and Linux do: vendor
// and device IDs, class, header type (multi-function devices get their other functions scanned),
// revision, and every BAR sized by writing all ones with decoding off, then restoring it. Printed in
// `lspci -nn` form with `lspci -v`-style BAR lines.
// mirrors linux drivers/pci/probe.c: pci_scan_slot, __pci_read_base (sizing); pci_ids names for the
// devices QEMU's xenfv machine has

export interface PciConfig {
  /** config read of `size` (1, 2, 4) bytes at register `reg` of `bdf` (bus << 8 | dev << 3 | fn) */
  read(bdf: number, reg: number, size: number): Promise<number>;
  write(bdf: number, reg: number, size: number, value: number): Promise<void>;
}

export interface PciBar {
  index: number;
  kind: "io" | "mem";
  /** 64-bit memory BAR (it takes the next BAR's slot too) */
  is64: boolean;
  prefetchable: boolean;
  /** the programmed base address */
  base: bigint;
  size: bigint;
}

export interface PciFunction {
  bdf: number;
  vendor: number;
  device: number;
  classCode: number;
  progIf: number;
  revision: number;
  headerType: number;
  subsystemVendor: number;
  subsystem: number;
  bars: PciBar[];
  /** the expansion ROM, sized like a BAR (absent when it decodes nothing) */
  rom: { base: bigint; size: bigint } | null;
}

const PCI_VENDOR_ID = 0x00;
const PCI_COMMAND = 0x04;
const PCI_CLASS_REVISION = 0x08;
const PCI_HEADER_TYPE = 0x0e;
const PCI_BASE_ADDRESS_0 = 0x10;
const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
const PCI_ROM_ADDRESS = 0x30;
const PCI_COMMAND_IO = 0x1;
const PCI_COMMAND_MEMORY = 0x2;

export const bdfString = (bdf: number): string =>
  `${((bdf >> 8) & 0xff).toString(16).padStart(2, "0")}:${((bdf >> 3) & 0x1f).toString(16).padStart(2, "0")}.${bdf & 7}`;

/** Sizes one BAR: all ones written, the read-back's writable bits give the size. */
async function sizeBar(cfg: PciConfig, bdf: number, reg: number): Promise<{ orig: number; mask: number }> {
  const orig = await cfg.read(bdf, reg, 4);
  await cfg.write(bdf, reg, 4, 0xffffffff);
  const mask = await cfg.read(bdf, reg, 4);
  await cfg.write(bdf, reg, 4, orig);
  return { orig: orig >>> 0, mask: mask >>> 0 };
}

async function readBars(cfg: PciConfig, bdf: number, count: number): Promise<PciBar[]> {
  const bars: PciBar[] = [];
  for (let i = 0; i < count; i++) {
    const reg = PCI_BASE_ADDRESS_0 + 4 * i;
    const { orig, mask } = await sizeBar(cfg, bdf, reg);
    if (mask === 0 || mask === 0xffffffff) continue;
    if (orig & 1) {
      // I/O: bits 2+ (the top 16 bits may read back 0 on a 16-bit decoder)
      const m = (mask & 0xfffffffc) | (mask & 0xffff0000 ? 0 : 0xffff0000);
      bars.push({ index: i, kind: "io", is64: false, prefetchable: false, base: BigInt((orig & 0xfffffffc) >>> 0), size: BigInt(((~m >>> 0) + 1) >>> 0) });
      continue;
    }
    const is64 = ((orig >> 1) & 3) === 2;
    let base = BigInt((orig & 0xfffffff0) >>> 0);
    let m = BigInt((mask & 0xfffffff0) >>> 0);
    if (is64 && i + 1 < count) {
      const hi = await sizeBar(cfg, bdf, reg + 4);
      base |= BigInt(hi.orig) << 32n;
      m |= BigInt(hi.mask) << 32n;
      i++;
    } else m |= 0xffffffff00000000n;
    const size = (~m & 0xffffffffffffffffn) + 1n;
    bars.push({ index: is64 ? i - 1 : i, kind: "mem", is64, prefetchable: (orig & 8) !== 0, base, size });
  }
  return bars;
}

async function readRom(cfg: PciConfig, bdf: number): Promise<PciFunction["rom"]> {
  const orig = (await cfg.read(bdf, PCI_ROM_ADDRESS, 4)) >>> 0;
  await cfg.write(bdf, PCI_ROM_ADDRESS, 4, 0xfffff800);
  const mask = (await cfg.read(bdf, PCI_ROM_ADDRESS, 4)) >>> 0;
  await cfg.write(bdf, PCI_ROM_ADDRESS, 4, orig);
  const m = (mask & 0xfffff800) >>> 0;
  if (m === 0) return null;
  return { base: BigInt((orig & 0xfffff800) >>> 0), size: BigInt(((~m >>> 0) + 1) >>> 0) };
}

async function readFunction(cfg: PciConfig, bdf: number): Promise<PciFunction | null> {
  const id = (await cfg.read(bdf, PCI_VENDOR_ID, 4)) >>> 0;
  const vendor = id & 0xffff;
  if (vendor === 0xffff || vendor === 0) return null;
  const cr = (await cfg.read(bdf, PCI_CLASS_REVISION, 4)) >>> 0;
  const headerType = (await cfg.read(bdf, PCI_HEADER_TYPE, 1)) & 0xff;
  const layout = headerType & 0x7f;
  const f: PciFunction = {
    bdf, vendor, device: id >>> 16, classCode: cr >>> 16, progIf: (cr >>> 8) & 0xff, revision: cr & 0xff, headerType,
    subsystemVendor: 0, subsystem: 0, bars: [], rom: null,
  };
  if (layout === 0) {
    const ss = (await cfg.read(bdf, PCI_SUBSYSTEM_VENDOR_ID, 4)) >>> 0;
    f.subsystemVendor = ss & 0xffff;
    f.subsystem = ss >>> 16;
  }
  const nbars = layout === 0 ? 6 : layout === 1 ? 2 : 0;
  if (nbars > 0) {
    // decoding off while the BARs hold all ones, as __pci_read_base does (host bridges excepted)
    const cmd = (await cfg.read(bdf, PCI_COMMAND, 2)) & 0xffff;
    const hostBridge = f.classCode === 0x0600;
    if (!hostBridge && cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) await cfg.write(bdf, PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    try {
      f.bars = await readBars(cfg, bdf, nbars);
      if (layout === 0) f.rom = await readRom(cfg, bdf);
    } finally {
      if (!hostBridge && cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) await cfg.write(bdf, PCI_COMMAND, 2, cmd);
    }
  }
  return f;
}

/** Every function on bus 0, in slot order (pci_scan_slot: function 0 first, others if multi-function). */
export async function enumeratePci(cfg: PciConfig, bus = 0): Promise<PciFunction[]> {
  const out: PciFunction[] = [];
  for (let dev = 0; dev < 32; dev++) {
    const f0 = await readFunction(cfg, (bus << 8) | (dev << 3));
    if (f0 === null) continue;
    out.push(f0);
    if ((f0.headerType & 0x80) === 0) continue;
    for (let fn = 1; fn < 8; fn++) {
      const f = await readFunction(cfg, (bus << 8) | (dev << 3) | fn);
      if (f !== null) out.push(f);
    }
  }
  return out;
}

// pci.ids names of the classes and devices a Xen HVM guest's QEMU shows
const CLASS_NAMES: Readonly<Record<number, string>> = {
  0x0100: "SCSI storage controller", 0x0101: "IDE interface", 0x0106: "SATA controller",
  0x0200: "Ethernet controller", 0x0300: "VGA compatible controller", 0x0380: "Display controller",
  0x0401: "Multimedia audio controller", 0x0403: "Audio device", 0x0600: "Host bridge", 0x0601: "ISA bridge",
  0x0604: "PCI bridge", 0x0680: "Bridge", 0x0c03: "USB controller", 0x0780: "Communication controller",
  0xff80: "Unassigned class",
};
const VENDOR_NAMES: Readonly<Record<number, string>> = {
  0x8086: "Intel Corporation", 0x5853: "XenSource, Inc.", 0x1013: "Cirrus Logic", 0x1234: "Device", 0x1af4: "Red Hat, Inc.",
};
const DEVICE_NAMES: Readonly<Record<string, string>> = {
  "8086:1237": "440FX - 82441FX PMC [Natoma]",
  "8086:7000": "82371SB PIIX3 ISA [Natoma/Triton II]",
  "8086:7010": "82371SB PIIX3 IDE [Natoma/Triton II]",
  "8086:7020": "82371SB PIIX3 USB [Natoma/Triton II]",
  "8086:7113": "82371AB/EB/MB PIIX4 ACPI",
  "8086:100e": "82540EM Gigabit Ethernet Controller",
  "5853:0001": "Xen Platform Device",
  "1013:00b8": "GD 5446",
  "1234:1111": "1111",
};

const hex4 = (v: number): string => v.toString(16).padStart(4, "0");

function sizeString(n: bigint): string {
  const units: [bigint, string][] = [[1n << 30n, "G"], [1n << 20n, "M"], [1n << 10n, "K"]];
  for (const [u, s] of units) if (n >= u && n % u === 0n) return `${n / u}${s}`;
  return String(n);
}

/** One `lspci -nn -v`-style block per function. */
export function formatLspci(fns: readonly PciFunction[]): string {
  const lines: string[] = [];
  for (const f of fns) {
    const cls = CLASS_NAMES[f.classCode] ?? "Class";
    const key = `${hex4(f.vendor)}:${hex4(f.device)}`;
    const vendor = VENDOR_NAMES[f.vendor] ?? "Unknown vendor";
    const dev = DEVICE_NAMES[key] ?? "Device";
    const rev = f.revision !== 0 ? ` (rev ${f.revision.toString(16).padStart(2, "0")})` : "";
    lines.push(`${bdfString(f.bdf)} ${cls} [${hex4(f.classCode)}]: ${vendor} ${dev} [${key}]${rev}`);
    if (f.subsystemVendor !== 0) lines.push(`\tSubsystem: [${hex4(f.subsystemVendor)}:${hex4(f.subsystem)}]`);
    for (const b of f.bars) {
      if (b.kind === "io") lines.push(`\tRegion ${b.index}: I/O ports at ${b.base.toString(16)} [size=${sizeString(b.size)}]`);
      else {
        const attrs = `${b.is64 ? "64-bit" : "32-bit"}, ${b.prefetchable ? "prefetchable" : "non-prefetchable"}`;
        lines.push(`\tRegion ${b.index}: Memory at ${b.base.toString(16)} (${attrs}) [size=${sizeString(b.size)}]`);
      }
    }
    if (f.rom !== null) lines.push(`\tExpansion ROM at ${f.rom.base.toString(16)} [size=${sizeString(f.rom.size)}]`);
  }
  return lines.join("\n") + (lines.length > 0 ? "\n" : "");
}
