// The two 8259A PICs (0x20-0x21, 0xa0-0xa1) and their ELCRs (0x4d0, 0x4d1) Xen emulates
// (XEN_X86_EMU_PIC): the ICW1-4 initialisation sequence, OCW1 (mask), OCW2 (EOI, rotation), OCW3
// (register select, poll, special mask) and the edge/level registers with their fixed bits. Not
// modelled: interrupt delivery (IRR is never raised here, so a poll reads 0xff: no interrupt).
// mirrors arch/x86/hvm/vpic.c: vpic_intercept_pic_io, vpic_ioport_write, vpic_ioport_read,
// vpic_intercept_elcr_io, vpic_reset
import { ELCR_PORT, PIC_MASTER_PORT, PIC_SLAVE_PORT } from "../../../abi/xen/hvm_platform.js";
import { OKAY, portioValue, type IoHandler, type IoRc } from "./handler.js";

interface PicState {
  isMaster: boolean;
  irr: number;
  imr: number;
  isr: number;
  elcr: number;
  irqBase: number;
  initState: number;
  priorityAdd: number;
  readselIsr: number;
  poll: number;
  specialMaskMode: number;
  autoEoi: number;
  rotateOnAutoEoi: number;
  specialFullyNestedMode: number;
}

function reset(isMaster: boolean): PicState {
  return {
    isMaster, irr: 0, imr: 0, isr: 0, elcr: isMaster ? 1 << 2 : 0, irqBase: 0, initState: 0, priorityAdd: 0,
    readselIsr: 0, poll: 0, specialMaskMode: 0, autoEoi: 0, rotateOnAutoEoi: 0, specialFullyNestedMode: 0,
  };
}

const elcrMask = (p: PicState): number => (p.isMaster ? 0xf8 : 0xde);

export class Vpic {
  readonly pics: [PicState, PicState] = [reset(true), reset(false)];

  readonly pic: IoHandler = {
    name: "pic",
    type: "pio",
    ranges: [{ port: PIC_MASTER_PORT, size: 2 }, { port: PIC_SLAVE_PORT, size: 2 }],
    read: (port, size) => this.readPic(port, size),
    write: (port, size, value) => this.writePic(port, size, Number(value & 0xffn)),
  };

  readonly elcr: IoHandler = {
    name: "elcr",
    type: "pio",
    ranges: [{ port: ELCR_PORT, size: 1 }, { port: ELCR_PORT + 1, size: 1 }],
    read: (port) => {
      const p = this.pics[port & 1]!;
      // the hard-wired level-triggered slave IR is not shown
      return { rc: OKAY, value: BigInt(p.elcr & elcrMask(p)) };
    },
    write: (port, _size, value) => {
      const p = this.pics[port & 1]!;
      p.elcr = (Number(value & 0xffn) & elcrMask(p)) | (p.isMaster ? 1 << 2 : 0);
      return OKAY;
    },
  };

  private readPic(port: number, size: number): { rc: IoRc; value: bigint } {
    if (size !== 1) return { rc: OKAY, value: portioValue(~0) };
    const p = this.pics[port & 0x80 ? 1 : 0];
    if (p.poll) {
      p.poll = 0;
      // vpic_intack with no interrupt output: -1, as a byte
      return { rc: OKAY, value: 0xffn };
    }
    if ((port & 1) === 0) return { rc: OKAY, value: BigInt(p.readselIsr ? p.isr : p.irr) };
    return { rc: OKAY, value: BigInt(p.imr) };
  }

  private writePic(port: number, size: number, val: number): IoRc {
    if (size !== 1) return OKAY;
    const p = this.pics[port & 0x80 ? 1 : 0];
    if ((port & 1) === 0) {
      if (val & 0x10) {
        // ICW1
        p.irr &= p.elcr;
        p.imr = 0;
        p.isr = 0;
        p.priorityAdd = 0;
        p.rotateOnAutoEoi = 0;
        p.specialMaskMode = 0;
        p.readselIsr = 0;
        p.poll = 0;
        if (!(val & 1)) {
          p.autoEoi = 0;
          p.specialFullyNestedMode = 0;
        }
        p.initState = ((val & 3) << 2) | 1;
      } else if (val & 0x08) {
        // OCW3
        if (val & 0x04) p.poll = 1;
        if (val & 0x02) p.readselIsr = val & 1;
        if (val & 0x40) p.specialMaskMode = (val >> 5) & 1;
      } else {
        this.ocw2(p, val);
      }
      return OKAY;
    }
    switch (p.initState & 3) {
      case 0:
        // OCW1
        p.imr = val;
        break;
      case 1:
        // ICW2, then ICW3 unless single mode
        p.irqBase = val & 0xf8;
        p.initState++;
        if (p.initState & 8) this.icw3(p);
        break;
      case 2:
        this.icw3(p);
        break;
      case 3:
        // ICW4
        p.specialFullyNestedMode = (val >> 4) & 1;
        p.autoEoi = (val >> 1) & 1;
        p.initState = 0;
        break;
    }
    return OKAY;
  }

  private icw3(p: PicState): void {
    p.initState++;
    if (!(p.initState & 4)) p.initState = 0;
  }

  private ocw2(p: PicState, val: number): void {
    const cmd = val >> 5;
    if (cmd === 0 || cmd === 4) p.rotateOnAutoEoi = cmd >> 2;
    else if (cmd === 1 || cmd === 5) {
      let mask = p.isr;
      if (p.specialMaskMode) mask &= ~p.imr;
      const prio = priority(p, mask);
      if (prio === 8) return;
      this.eoi(p, (prio + p.priorityAdd) & 7, cmd);
    } else if (cmd === 3 || cmd === 7) this.eoi(p, val & 7, cmd);
    else if (cmd === 6) p.priorityAdd = (val + 1) & 7;
  }

  private eoi(p: PicState, pin: number, cmd: number): void {
    p.isr &= ~(1 << pin);
    if (cmd === 7 || cmd === 5) p.priorityAdd = (pin + 1) & 7;
  }
}

/** vpic_get_priority: the highest priority in mask, 8 if none */
function priority(p: PicState, mask: number): number {
  if (mask === 0) return 8;
  let prio = 0;
  const rotated = ((mask >> p.priorityAdd) | (mask << (8 - p.priorityAdd))) & 0xff;
  while ((rotated & (1 << prio)) === 0) prio++;
  return prio;
}
