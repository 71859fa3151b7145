// Port 0xe9, Xen's HVM debug console (every HVM domain): writes of printable characters, newline and
// tab collect into lines, which Xen prints to its log; reads are not Xen's (passed on).
// mirrors arch/x86/hvm/hvm.c:hvm_print_line
import { XEN_HVM_DEBUGCONS_IOPORT } from "../../../abi/xen/hvm_platform.js";
import { OKAY, UNHANDLEABLE, portioValue, type IoHandler, type IoRc } from "./handler.js";

/** DOMAIN_PBUF_SIZE */
const PBUF_SIZE = 200;
/** lines kept */
const MAX_LINES = 256;

export class DebugConsole implements IoHandler {
  readonly name = "debugcon";
  readonly type = "pio" as const;
  readonly ranges = [{ port: XEN_HVM_DEBUGCONS_IOPORT, size: 1 }];
  private buf = "";
  readonly lines: string[] = [];

  read(): { rc: IoRc; value: bigint } {
    return { rc: UNHANDLEABLE, value: portioValue(~0) };
  }

  write(_port: number, _size: number, value: bigint): IoRc {
    const c = Number(value & 0xffn);
    const printable = c >= 0x20 && c < 0x7f;
    if (!printable && c !== 0x0a && c !== 0x09) return OKAY;
    if (c !== 0x0a) this.buf += String.fromCharCode(c);
    if (this.buf.length === PBUF_SIZE - 1 || c === 0x0a) {
      this.lines.push(this.buf);
      if (this.lines.length > MAX_LINES) this.lines.shift();
      this.buf = "";
    }
    return OKAY;
  }
}
