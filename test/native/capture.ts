// Regenerates fixtures/captures/libxendevicemodel-4.17.jsonl: the bytes Debian's real
// libxendevicemodel hands to the privcmd ioctls while native/conformance calls every public function,
// on the DM_OP ioctl path and on the hypercall fallback (XENDM_SHIM_NO_DMOP=1), recorded by the shim.
//   npx tsx test/native/capture.ts [out.jsonl]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONFORMANCE, DOM, ROOT, WORLD, buildNative, run, shimEnv, startServer } from "./harness.js";

export const CAPTURE_FIXTURE = join(ROOT, "fixtures/captures/libxendevicemodel-4.17.jsonl");
export const CAPTURE_FORMAT = 1;

function libraryVersion(): string {
  try {
    return execFileSync("dpkg-query", ["-W", "-f", "${Version}", "libxendevicemodel1"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** One capture run; returns the shim's JSON lines (text). */
export async function captureRun(path: "ioctl" | "hypercall", dir: string): Promise<string> {
  const srv = await startServer(WORLD);
  const file = join(dir, `${path}.jsonl`);
  try {
    const extra: Record<string, string> = { XENDM_CAPTURE: file };
    if (path === "hypercall") extra.XENDM_SHIM_NO_DMOP = "1";
    const r = await run(CONFORMANCE, ["all", String(DOM)], shimEnv(srv.path, extra));
    if (r.code !== 0) throw new Error(`conformance (${path}) exited ${String(r.code)}: ${r.stderr}`);
    return readFileSync(file, "utf8");
  } finally {
    await srv.close();
  }
}

async function main(): Promise<void> {
  const out = process.argv[2] ?? CAPTURE_FIXTURE;
  buildNative();
  const dir = mkdtempSync(join(tmpdir(), "xendm-capture-"));
  try {
    const header = {
      xendm_capture: CAPTURE_FORMAT,
      library: `libxendevicemodel1 ${libraryVersion()}`,
      abi: "x86_64",
      driver: `native/conformance all ${String(DOM)}`,
      world: WORLD,
    };
    let text = JSON.stringify(header) + "\n";
    for (const path of ["ioctl", "hypercall"] as const) {
      text += JSON.stringify({ run: path, env: path === "hypercall" ? { XENDM_SHIM_NO_DMOP: "1" } : {} }) + "\n";
      text += await captureRun(path, dir);
    }
    writeFileSync(out, text);
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main();
}
