// The IOAPIC Xen emulates at 0xfec00000 (XEN_X86_EMU_IOAPIC, one with 48 pins for an HVM guest):
// the IOREGSEL/IOWIN window, the ID, version and arbitration registers and the redirection table
// (reset masked; delivery status and remote IRR read only). Not modelled: interrupt delivery.
// mirrors arch/x86/hvm/vioapic.c: vioapic_range, vioapic_read, vioapic_write, vioapic_read_indirect,
// vioapic_write_indirect, vioapic_write_redirent, vioapic_reset
import {
  VIOAPIC_DEFAULT_BASE_ADDRESS, VIOAPIC_MEM_LENGTH, VIOAPIC_NUM_PINS, VIOAPIC_VERSION_ID,
} from "../../../abi/xen/hvm_platform.js";
import { OKAY, type IoHandler, type IoRc } from "./handler.js";

const REG_SELECT = 0x00;
const REG_WINDOW = 0x10;
const REG_APIC_ID = 0x00;
const REG_VERSION = 0x01;
const REG_ARB_ID = 0x02;
const REG_RTE0 = 0x10;
const RTE_MASK = 1n << 16n;
/** delivery status (bit 12) and remote IRR (bit 14) */
const RTE_READ_ONLY = (1n << 12n) | (1n << 14n);

export class Vioapic implements IoHandler {
  readonly name = "ioapic";
  readonly type = "mmio" as const;
  readonly ranges = [];
  readonly base = VIOAPIC_DEFAULT_BASE_ADDRESS;
  ioregsel = 0;
  id = 0;
  readonly redirtbl: bigint[] = Array.from({ length: VIOAPIC_NUM_PINS }, () => RTE_MASK);

  check(addr: number): boolean {
    return addr >= this.base && addr < this.base + VIOAPIC_MEM_LENGTH;
  }

  read(addr: number): { rc: IoRc; value: bigint } {
    const off = addr & 0xff;
    const v = off === REG_SELECT ? this.ioregsel : off === REG_WINDOW ? this.readIndirect() : 0;
    return { rc: OKAY, value: BigInt(v >>> 0) };
  }

  write(addr: number, _size: number, value: bigint): IoRc {
    const off = addr & 0xff;
    const val = Number(value & 0xffffffffn);
    if (off === REG_SELECT) this.ioregsel = val;
    else if (off === REG_WINDOW) this.writeIndirect(val);
    return OKAY;
  }

  private readIndirect(): number {
    const sel = this.ioregsel;
    if (sel === REG_VERSION) return VIOAPIC_VERSION_ID | ((VIOAPIC_NUM_PINS - 1) << 16);
    if (sel === REG_APIC_ID || sel === REG_ARB_ID) return (this.id & 0xf) << 24;
    const idx = (sel - REG_RTE0) >> 1;
    if (idx < 0 || idx >= VIOAPIC_NUM_PINS) return 0;
    const e = this.redirtbl[idx]!;
    return Number(sel & 1 ? e >> 32n : e & 0xffffffffn);
  }

  private writeIndirect(val: number): void {
    const sel = this.ioregsel;
    if (sel === REG_VERSION || sel === REG_ARB_ID) return;
    if (sel === REG_APIC_ID) {
      this.id = (val >>> 24) & 0xf;
      return;
    }
    const idx = (sel - REG_RTE0) >> 1;
    if (idx < 0 || idx >= VIOAPIC_NUM_PINS) return;
    const old = this.redirtbl[idx]!;
    if (sel & 1) this.redirtbl[idx] = (old & 0xffffffffn) | (BigInt(val >>> 0) << 32n);
    else this.redirtbl[idx] = ((old >> 32n) << 32n) | (BigInt(val >>> 0) & ~RTE_READ_ONLY) | (old & (1n << 14n));
  }
}
