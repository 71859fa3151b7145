// For bench/example.bench.ts and bench/fastpath.bench.ts: the C example device model (native/example) serving domain 1 under
// the shim, and sequential guest PIO writes it answers (each one an ioreq round trip: the record in
// the shared page, the event to the device model, its response and IOCTL_EVTCHN_NOTIFY back).
import { join } from "node:path";
import { guestOf, type AccessResult } from "../src/hypervisor/emulate.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import { PrivcmdDevice } from "../src/privcmd/index.js";
import { launchUnderShim, withTimeout, type LaunchedProgram } from "../src/toolstack/launch.js";
import { BUILD } from "../test/native/harness.js";
import { cpuShare } from "../test/native/cpu.js";

const DOM = 1;
const PORT = 0x100;
const EXAMPLE = join(BUILD, "xendm-example-dm");

export interface ExampleDm {
  hv: Hypervisor;
  dm: LaunchedProgram;
}

/** The example ready to serve (its ready line seen), with `env` for the shim; or why it did not start. */
export async function startExampleDm(env: Record<string, string>): Promise<ExampleDm | string> {
  const hv = new Hypervisor({ format: 1, domains: [{ domid: DOM, vcpus: 1 }] });
  const dm = await launchUnderShim({ argv: [EXAMPLE, "--domain", String(DOM)], device: new PrivcmdDevice(hv), hv, stdio: "capture", env });
  const t0 = Date.now();
  while (!dm.stdout.includes(" ready ")) {
    if (!dm.running || Date.now() - t0 > 10_000) {
      const why = dm.lastLines("stderr", 3).join(" / ") || "no ready line within 10 s";
      await dm.close();
      return why;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { hv, dm };
}

/** `n` guest PIO writes one after the other, each awaited until the device model completes it: per second. */
export async function ioreqRoundTrips(ex: ExampleDm, n: number): Promise<number> {
  const g = guestOf(ex.hv);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    let resolve: ((r: AccessResult) => void) | undefined;
    const p = new Promise<AccessResult>((res) => { resolve = res; });
    const first = g.pio(DOM, 0, { port: PORT, size: 4, dir: "write", data: i }, (r) => resolve?.(r));
    if (first.status !== "pending") throw new Error(`access ${i}: ${first.status} (expected to wait for the device model)`);
    if ((await withTimeout(p, 5000)) === undefined) throw new Error(`access ${i}: no answer within 5 s`);
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/**
 * CPU share of the example waiting on an idle domain, after round trips that armed its evtchn event
 * area and grew its spin budgets (fast path on); undefined when it did not start.
 */
export async function exampleIdle(ms = 2000): Promise<number | undefined> {
  const ex = await startExampleDm({ XENDM_SHIM_FASTPATH: "1" });
  if (typeof ex === "string") return undefined;
  try {
    await ioreqRoundTrips(ex, 500);
    await new Promise((r) => setTimeout(r, 300));
    return ex.dm.pid === undefined ? undefined : await cpuShare(ex.dm.pid, ms);
  } finally {
    await ex.dm.close();
  }
}
