// The C example device model (native/example/): its command line, and the scenarios under
// fixtures/scenarios/device-model/ that drive it end to end through `xendm run`'s runner.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadScenarioFile, runScenarioAsync, type StepResult } from "../../src/scenario/index.js";
import { BUILD, ROOT, buildNative, nativeMissing } from "./harness.js";

const EXAMPLE = join(BUILD, "xendm-example-dm");
const DIR = join(ROOT, "fixtures", "scenarios", "device-model");
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) process.stderr.write(`\n*** test/native/example SKIPPED: ${missing}. The C example is NOT tested here. ***\n\n`);
const suite = missing !== undefined && !ci ? describe.skip : describe;

function explain(results: StepResult[]): string {
  return results.filter((r) => !r.pass).map((r) => [`step ${r.index} ${r.action}: ${r.summary}${r.note !== undefined ? `  # ${r.note}` : ""}`, ...(r.diff ?? []), ...(r.output ?? [])].join("\n    ")).join("\n");
}

suite("the C example device model", () => {
  beforeAll(() => {
    buildNative();
  });

  it("refuses bad command lines with exit status 2 and a message naming the option", () => {
    const cases: [string[], RegExp][] = [
      [[], /--domain is required/],
      [["--domain", "0"], /serves a guest, not the control domain/],
      [["--domain", "1", "--irq", "16"], /--irq 16: not an ISA IRQ/],
      [["--domain", "1", "--mmio", "0xfeb00010"], /--mmio 0xfeb00010: not a page-aligned address/],
      [["--domain", "1", "--pci", "0:0:32.0"], /--pci 0:0:32.0: not SEG:BUS:DEV.FN/],
      [["--domain", "1", "--port", "0xfff0"], /--port 0xfff0: not a port base/],
      [["--domain", "1", "--wait-ms", "0"], /--wait-ms 0/],
      [["--domain", "x1"], /--domain x1: not a domain id/],
      [["--domain", "1", "extra"], /argument extra: unexpected/],
      [["--bogus"], /unrecognized option/],
    ];
    for (const [args, msg] of cases) {
      const r = spawnSync(EXAMPLE, args, { encoding: "utf8", timeout: 10_000 });
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(msg);
    }
    const help = spawnSync(EXAMPLE, ["--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    // docs/example.md shows this text as it is
    const doc = readFileSync(join(ROOT, "docs", "example.md"), "utf8");
    const block = /```\n(usage: xendm-example-dm[^]*?)```/.exec(doc)?.[1];
    expect(help.stdout).toBe(block);
  });

  it("without a host to talk to, fails set-up with status 1 and names the call", () => {
    // no shim: the real /dev/xen/privcmd does not exist here
    const r = spawnSync(EXAMPLE, ["--domain", "1"], { encoding: "utf8", timeout: 10_000, env: { ...process.env, LD_PRELOAD: "", XENDM_SOCKET: "" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/xendm-example-dm: (xendevicemodel_open|xenforeignmemory_open|xenevtchn_open): /);
  });

  it("xendm exec serves it until SIGTERM is passed on, then exits with its status 0", async () => {
    const child = spawn(join(ROOT, "node_modules", ".bin", "tsx"), [join(ROOT, "src", "cli", "main.ts"), "exec", "--domain", "4", "--", EXAMPLE, "--domain", "4", "--no-bufioreq"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.on("data", (c: Buffer) => { err += c.toString(); });
    const exited = new Promise<number | null>((res) => child.once("exit", (c) => { res(c); }));
    const ready = await Promise.race([
      new Promise<boolean>((res) => {
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes(" ready ")) res(true);
        });
      }),
      exited.then(() => false),
    ]);
    expect(ready, err).toBe(true);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toBe("xendm-example-dm: ready domain=4 server=0 vcpus=2 bufioreq=off restricted=yes\nxendm-example-dm: stopped after 0 ioreqs and 0 buffered records\n");
  }, 30_000);

  for (const f of FILES) {
    it(`scenario device-model/${f}`, async () => {
      const results = await runScenarioAsync(loadScenarioFile(join(DIR, f)), { cwd: ROOT });
      expect(explain(results)).toBe("");
      expect(results.length).toBeGreaterThan(10);
    }, 60_000);
  }
});
