// The keys for scenarios with a device model, driven with a shell script as the "device model"
// (the C example's end-to-end scenarios are in test/native/example.test.ts).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario, runScenario, runScenarioAsync, ScenarioError } from "../../src/scenario/index.js";
import { shimPath } from "../../src/toolstack/launch.js";
import { validate } from "./schema-validator.js";

const haveShim = existsSync(shimPath());
if (!haveShim) {
  if (process.env.CI === "true") throw new Error(`${shimPath()} is missing: CI builds it with make -C native`);
  console.warn(`\n*** SKIPPING the device-model runner tests: ${shimPath()} is missing (make -C native) ***\n`);
}

const TRAP = "echo started; trap 'echo bye; echo gone >&2; exit 7' TERM; while :; do sleep 0.02; done";
const world = { format: 1, domains: [{ domid: 1, vcpus: 1 }] };
const dm = (extra: object = {}) => ({ exec: ["sh", "-c", TRAP], ready: { query: { device_model: {} }, expect: { stdout: "started\n" } }, timeout_ms: 5000, ...extra });

describe("parsing the device-model keys", () => {
  it("takes exactly the documented keys", () => {
    const sc = parseScenario({ ...world, device_model: dm({ env: { A: "1" } }), steps: [
      { ram: { domid: 1, addr: "0x1000", write: "00ff" } },
      { ram: { domid: 1, addr: "0x1000", read: 2 }, expect: { hex: "00 FF" } },
      { wait: { query: { irq: { domid: 1 } }, expect: { isa_irqs: [4] } }, timeout_ms: 100 },
      { device_model: "stop", expect: { exit_code: 0 } },
    ] });
    expect(sc.device_model).toMatchObject({ exec: ["sh", "-c", TRAP], env: { A: "1" }, timeout_ms: 5000, ready: { query: "device_model" } });
    expect(sc.steps.map((s) => s.kind)).toEqual(["ram", "ram", "wait", "device_model"]);
    expect(sc.steps[1]).toMatchObject({ read: 2, expect: { hex: "00ff" } });
    expect(sc.steps[2]).toMatchObject({ query: "irq", until: { isa_irqs: [4] }, timeout_ms: 100 });
  });

  const bad: [string, object, string][] = [
    ["an unknown device_model key", { device_model: { exec: ["x"], cwd: "/" } }, "device_model.cwd"],
    ["an empty exec", { device_model: { exec: [] } }, "device_model.exec"],
    ["LD_PRELOAD in env", { device_model: { exec: ["x"], env: { LD_PRELOAD: "y" } } }, "device_model.env.LD_PRELOAD"],
    ["a zero timeout", { device_model: { exec: ["x"], timeout_ms: 0 } }, "device_model.timeout_ms"],
    ["ready without expect", { device_model: { exec: ["x"], ready: { query: { irq: { domid: 1 } } } } }, "device_model.ready.expect"],
    ["ram with both write and read", { steps: [{ ram: { domid: 1, addr: 0, write: "00", read: 1 } }] }, "steps[0].ram"],
    ["ram read of 0 bytes", { steps: [{ ram: { domid: 1, addr: 0, read: 0 } }] }, "steps[0].ram.read"],
    ["an expectation on a ram write", { steps: [{ ram: { domid: 1, addr: 0, write: "00" }, expect: { hex: "00" } }] }, "steps[0].expect"],
    ["wait with a step-level expect", { steps: [{ wait: { query: { irq: { domid: 1 } }, expect: {} }, expect: {} }] }, "steps[0].expect"],
    ["device_model other than stop", { steps: [{ device_model: "start" }] }, "steps[0].device_model"],
    ["a stop expectation key", { steps: [{ device_model: "stop", expect: { code: 0 } }] }, "steps[0].expect.code"],
  ];
  for (const [what, extra, path] of bad) {
    it(`refuses ${what} (${path})`, () => {
      let err: unknown;
      try {
        parseScenario({ ...world, steps: [], ...extra });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ScenarioError);
      expect((err as ScenarioError).path).toBe(path);
    });
  }

  it("the synchronous runner refuses a device model and checks a wait once", () => {
    expect(() => runScenario({ ...world, device_model: dm(), steps: [] })).toThrow(/asynchronously/);
    const [r] = runScenario({ ...world, steps: [{ wait: { query: { irq: { domid: 1 } }, expect: { isa_irqs: [4] } }, timeout_ms: 10 }] });
    expect(r!.pass).toBe(false);
    expect(r!.diff!.join("\n")).toMatch(/cannot change/);
  });
});

describe("the scenario JSON Schema and the device-model keys", () => {
  const root = join(import.meta.dirname, "..", "..");
  const schema = JSON.parse(readFileSync(join(root, "schema", "scenario.schema.json"), "utf8")) as Record<string, unknown>;
  const dir = join(root, "fixtures", "scenarios", "device-model");
  it.each(readdirSync(dir).filter((f) => f.endsWith(".json")))("accepts device-model/%s", (f) => {
    expect(validate(schema, JSON.parse(readFileSync(join(dir, f), "utf8")))).toBeUndefined();
  });
  it.each([
    [{ device_model: { exec: ["x"], cwd: "/" } }, /device_model\/cwd: not allowed/],
    [{ device_model: { env: {} } }, /device_model: missing exec/],
    [{ device_model: { exec: ["x"], ready: { query: {} } } }, /device_model\/ready: missing expect/],
    [{ steps: [{ ram: { domid: 1, addr: 0, size: 1 } }] }, /steps\/0\/ram\/size: not allowed/],
    [{ steps: [{ wait: { query: {}, expect: {}, timeout_ms: 5 } }] }, /steps\/0\/wait\/timeout_ms: not allowed/],
    [{ steps: [{ device_model: "start" }] }, /steps\/0\/device_model: expected "stop"/],
  ])("refuses %j", (doc, msg) => {
    expect(validate(schema, doc)).toMatch(msg);
  });
});

describe("ram steps (no device model)", () => {
  it("writes and reads guest-physical bytes across a page boundary, refuses holes", () => {
    const res = runScenario({ ...world, steps: [
      { ram: { domid: 1, addr: "0x1ffe", write: "11223344" } },
      { ram: { domid: 1, addr: "0x1ffc", read: 8 }, expect: { hex: "0000112233440000" } },
      { guest: { domid: 1, vcpu: 0, mem: { addr: "0x2000", size: 2, dir: "read" } }, expect: { result: "0x4433" } },
      { ram: { domid: 1, addr: "0xa0000", read: 1 } },
      { ram: { domid: 9, addr: 0, read: 1 } },
    ] });
    expect(res.map((r) => r.pass)).toEqual([true, true, true, false, false]);
    expect(res[3]!.summary).toMatch(/gfn 0xa0 of domain 1 is mmio_dm, not RAM/);
    expect(res[4]!.summary).toMatch(/domain 9 does not exist/);
  });
});

describe.skipIf(!haveShim)("a device model beside the fake", () => {
  it("waits for ready, answers the device_model query, stops it with SIGTERM and reports its exit", async () => {
    const res = await runScenarioAsync({ ...world, device_model: dm({ env: { GREETING: "hi" } }), steps: [
      { query: { device_model: {} }, expect: { running: true, exit_code: null, stdout: "started\n", stderr: "" } },
      { wait: { query: { device_model: {} }, expect: { running: false } }, timeout_ms: 30 },
      { device_model: "stop", expect: { exit_code: 7 } },
      { query: { device_model: {} }, expect: { running: false, exit_code: 7, stdout: "started\nbye\n", stderr: "gone\n" } },
    ] });
    expect(res.map((r) => r.pass)).toEqual([true, false, true, true]);
    // a failing step shows the last answer and the device model's last output lines
    expect(res[1]!.diff![0]).toMatch(/did not hold within 30 ms; the last answer: .*"running":true/);
    expect(res[1]!.output).toEqual(["stdout| started"]);
    expect(res[2]!.summary).toBe("stopped: exit code 7");
  });

  it("passes env and the shim's variables to the program", async () => {
    const script = 'echo "$GREETING ${XENDM_SOCKET:+socket} ${LD_PRELOAD##*/} ${XENSTORED_PATH##*/}"; exec sleep 5';
    const res = await runScenarioAsync({ ...world, device_model: { exec: ["sh", "-c", script], env: { GREETING: "hi" }, ready: { query: { device_model: {} }, expect: { stdout: "hi socket libxendm-shim.so xenstored.sock\n" } }, timeout_ms: 5000 }, steps: [
      { device_model: "stop", expect: { exit_code: 143 } },
    ] });
    expect(res.map((r) => [r.pass, r.summary])).toEqual([[true, "stopped: killed by SIGTERM"]]);
  });

  it("a program that exits before it is ready fails at once with its output", async () => {
    const t0 = Date.now();
    const res = await runScenarioAsync({ ...world, device_model: { exec: ["sh", "-c", "echo 'no xen here' >&2; exit 3"], ready: { query: { server: { domid: 1, id: 0 } }, expect: { enabled: true } }, timeout_ms: 20000 }, steps: [
      { query: { irq: { domid: 1 } } },
    ] });
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(res).toHaveLength(1);
    expect(res[0]).toMatchObject({ index: -1, action: "device_model", pass: false, output: ["stderr| no xen here"] });
    expect(res[0]!.summary).toMatch(/exited \(status 3\) before it was ready/);
  });

  it("a program that ignores SIGTERM is killed after timeout_ms and the stop fails", async () => {
    const res = await runScenarioAsync({ ...world, device_model: { exec: ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.02; done"], ready: { query: { device_model: {} }, expect: { stdout: "up\n" } }, timeout_ms: 300 }, steps: [
      { device_model: "stop", expect: { exit_code: 0 } },
    ] });
    expect(res[0]!.pass).toBe(false);
    expect(res[0]!.diff).toContain("did not exit within 300 ms of SIGTERM: killed");
    expect(res[0]!.result).toMatchObject({ running: false, exit_code: 137 });
  });

  it("a guest access nobody answers fails when the device model exits, not after timeout_ms", async () => {
    // the "device model" registers nothing: a server made by a dmop step takes the access, nobody answers
    const t0 = Date.now();
    const res = await runScenarioAsync({ ...world, device_model: { exec: ["sh", "-c", "echo up; sleep 0.3; exit 4"], ready: { query: { device_model: {} }, expect: { stdout: "up\n" } }, timeout_ms: 20000 }, steps: [
      { dmop: { domid: 1, op: { op: "create_ioreq_server", u: { create_ioreq_server: { handle_bufioreq: 0 } } } }, expect: { rc: 0 } },
      { dmop: { domid: 1, op: { op: "get_ioreq_server_info", u: { get_ioreq_server_info: { id: 0 } } } }, expect: { rc: 0 } },
      { dmop: { domid: 1, op: { op: "map_io_range_to_ioreq_server", u: { map_io_range_to_ioreq_server: { id: 0, type: 0, start: "0x100", end: "0x100" } } } }, expect: { rc: 0 } },
      { dmop: { domid: 1, op: { op: "set_ioreq_server_state", u: { set_ioreq_server_state: { id: 0, enabled: 1 } } } }, expect: { rc: 0 } },
      { guest: { domid: 1, vcpu: 0, pio: { port: "0x100", size: 1, dir: "read" } }, expect: { pending: false } },
    ] });
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(res.slice(0, 4).map((r) => r.pass)).toEqual([true, true, true, true]);
    expect(res[4]!.pass).toBe(false);
    expect(res[4]!.diff!.join("\n")).toMatch(/no answer: the device model exited \(status 4\) \(vCPU 0 still waits on server 0\)/);
    expect(res[4]!.result).toMatchObject({ pending: true });
  });

  it("a missing program is an invalid file naming device_model.exec", async () => {
    await expect(runScenarioAsync({ ...world, device_model: { exec: ["./no/such/dm"] }, steps: [] })).rejects.toThrow(/no\/such\/dm not found/);
  });
});
