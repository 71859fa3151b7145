// The real libxendevicemodel's captured calls (fixtures/captures) as the server receives them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SentCall } from "../../src/conform/index.js";

export interface CapturedSent { mark: string; call: SentCall }

const FIXTURE = join(import.meta.dirname, "../../fixtures/captures/libxendevicemodel-4.17.jsonl");

interface Line {
  mark?: string; ioctl?: string; dom?: number; num?: number; nr?: number; arg3?: number; arg4?: number;
  bufs?: { size: number; fault?: boolean; before?: string }[];
}

export function capturedCalls(): CapturedSent[] {
  const out: CapturedSent[] = [];
  let mark = "";
  for (const text of readFileSync(FIXTURE, "utf8").split("\n")) {
    if (text.trim() === "") continue;
    const l = JSON.parse(text) as Line;
    if (l.mark !== undefined) mark = l.mark;
    if (l.ioctl !== "IOCTL_PRIVCMD_DM_OP" && l.ioctl !== "IOCTL_PRIVCMD_HYPERCALL") continue;
    const bufs = (l.bufs ?? []).map((b) => ({
      size: BigInt(b.size), unreadable: b.fault === true,
      ...(b.before !== undefined ? { bytes: Uint8Array.from(Buffer.from(b.before, "hex")) } : {}),
    }));
    const hcall = l.ioctl === "IOCTL_PRIVCMD_HYPERCALL";
    const call: SentCall = {
      path: hcall ? "hypercall" : "ioctl", abi: "x86_64", dom: l.dom ?? 0, num: hcall ? (l.nr ?? 0) : (l.num ?? 0), bufs,
      ...(hcall ? { args: [BigInt(l.dom ?? 0), BigInt(l.nr ?? 0), 0x1000n, BigInt(l.arg3 ?? 0), BigInt(l.arg4 ?? 0)] } : {}),
    };
    out.push({ mark, call });
  }
  return out;
}
