// The ACPI PM timer and PM1a event block Xen emulates (XEN_X86_EMU_PM): TMR_VAL (4 bytes, 32-bit
// counter at 3.579545 MHz, read only, 4-byte reads) and PM1a_STS/PM1a_EN (write 1 to clear / plain),
// at the V0 or V1 addresses that HVM_PARAM_ACPI_IOPORTS_LOCATION selects. PM1a_CNT, between them, and
// GPE0 are the device model's. Not modelled: the SCI (IRQ 9) when an enabled status bit is set.
// mirrors arch/x86/hvm/pmtimer.c: handle_pmt_io, handle_evt_io, pmt_update_time, pmtimer_change_ioport
import {
  ACPI_PM1A_EVT_BLK_ADDRESS_V0, ACPI_PM1A_EVT_BLK_ADDRESS_V1, ACPI_PM_TMR_BLK_ADDRESS_V0, ACPI_PM_TMR_BLK_ADDRESS_V1,
  FREQUENCE_PMTIMER,
} from "../../../abi/xen/hvm_platform.js";
import type { GuestClock } from "./clock.js";
import { OKAY, portioValue, type IoHandler, type IoRc, type PortioRange } from "./handler.js";

const TMR_STS = 1 << 0;
const TMR_VAL_MSB = 0x80000000;
const SYSTEM_TIME_HZ = 1_000_000_000n;

export class PmTimer {
  pm1aSts = 0;
  pm1aEn = 0;
  private tmrVal = 0;
  private lastNs: bigint;
  private notAccounted = 0n;
  /** s->scale: PM timer ticks per ns, as a 32.32 fixed-point number */
  private readonly scale = (BigInt(FREQUENCE_PMTIMER) << 32n) / SYSTEM_TIME_HZ;
  private location: 0 | 1;
  readonly timer: IoHandler & { ranges: PortioRange[] };
  readonly events: IoHandler & { ranges: PortioRange[] };

  constructor(
    private readonly clock: GuestClock,
    location: 0 | 1 = 0,
  ) {
    this.lastNs = clock.nowNs();
    this.location = location;
    this.timer = {
      name: "pmtimer",
      type: "pio",
      ranges: [{ port: this.tmrAddr(), size: 4 }],
      read: (_port, size) => this.readTimer(size),
      // TMR_VAL is read only: a write is a bad access, dropped
      write: () => OKAY,
    };
    this.events = {
      name: "pm1a-evt",
      type: "pio",
      ranges: [{ port: this.evtAddr(), size: 4 }],
      read: (port, size) => this.readEvt(port, size),
      write: (port, size, value) => this.writeEvt(port, size, value),
    };
  }

  private tmrAddr(): number {
    return this.location === 0 ? ACPI_PM_TMR_BLK_ADDRESS_V0 : ACPI_PM_TMR_BLK_ADDRESS_V1;
  }

  private evtAddr(): number {
    return this.location === 0 ? ACPI_PM1A_EVT_BLK_ADDRESS_V0 : ACPI_PM1A_EVT_BLK_ADDRESS_V1;
  }

  /** HVM_PARAM_ACPI_IOPORTS_LOCATION changed: both handlers move (relocate_portio_handler). */
  relocate(location: 0 | 1): void {
    this.location = location;
    this.timer.ranges[0] = { port: this.tmrAddr(), size: 4 };
    this.events.ranges[0] = { port: this.evtAddr(), size: 4 };
  }

  get ioportsLocation(): 0 | 1 {
    return this.location;
  }

  private update(): void {
    const now = this.clock.nowNs();
    const tmp = (now - this.lastNs) * this.scale + this.notAccounted;
    this.notAccounted = BigInt.asUintN(32, tmp);
    const msb = this.tmrVal & TMR_VAL_MSB;
    this.tmrVal = Number(BigInt.asUintN(32, BigInt(this.tmrVal) + (tmp >> 32n)));
    this.lastNs = now;
    if ((this.tmrVal & TMR_VAL_MSB) !== msb) this.pm1aSts |= TMR_STS;
  }

  private readTimer(size: number): { rc: IoRc; value: bigint } {
    if (size !== 4) return { rc: OKAY, value: portioValue(~0) };
    this.update();
    return { rc: OKAY, value: BigInt(this.tmrVal >>> 0) };
  }

  private readEvt(port: number, size: number): { rc: IoRc; value: bigint } {
    const addr = port - this.evtAddr();
    let data = (this.pm1aSts | (this.pm1aEn << 16)) >>> 0;
    data = data >>> (8 * addr);
    if (size === 1) data &= 0xff;
    else if (size === 2) data &= 0xffff;
    return { rc: OKAY, value: BigInt(data >>> 0) };
  }

  private writeEvt(port: number, size: number, value: bigint): IoRc {
    let addr = port - this.evtAddr();
    let data = Number(value & 0xffffffffn);
    for (let i = size; i > 0; i--, addr++, data >>>= 8) {
      const byte = data & 0xff;
      if (addr === 0) this.pm1aSts &= ~byte;
      else if (addr === 1) this.pm1aSts &= ~(byte << 8);
      else if (addr === 2) this.pm1aEn = (this.pm1aEn & 0xff00) | byte;
      else if (addr === 3) this.pm1aEn = (this.pm1aEn & 0xff) | (byte << 8);
    }
    return OKAY;
  }
}
