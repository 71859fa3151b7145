// The shim's guarded copies of the caller's memory beside the program's own SIGSEGV/SIGBUS handlers
// (native/sigchain.c): real faults reach the program as the kernel would deliver them, the shim's own
// faults become EFAULT, and a good DM_OP makes no process_vm_readv/writev call.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD, CONFORMANCE, DOM, SHIM, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer, type RunningServer } from "./harness.js";

const EFAULT = 14, SIGBUS = 7, SIGSEGV = 11;
const SIGCHAIN = join(BUILD, "sigchain");

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/native/guard SKIPPED: ${missing}. The shim's fault handling is NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

function hasStrace(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** `sh -c script` with the shim's socket in the environment but not preloaded into the shell itself. */
function shell(script: string, socket: string, extra: Record<string, string> = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, XENDM_SOCKET: socket, ...extra };
    delete env.LD_PRELOAD;
    const child = spawn("sh", ["-c", script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
    child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
    child.on("error", reject);
    child.on("close", (code, signal) => { resolve({ code, signal, stdout, stderr }); });
  });
}

function byCase(stdout: string): Record<string, number> {
  return Object.fromEntries(jsonLines(stdout).map((l) => [String(l.case), Number(l.v)]));
}

/** What `sigchain all` prints when every rule holds (x86_64). */
const ALL_EXPECTED: Record<string, number> = {
  pre_installed: 1,
  before_init_reported: 1, // a handler the program set before the shim's init is the one sigaction reports
  before_init_fault: 1,
  before_init_calls: 1,
  before_init_si_addr: 16,
  before_init_bus_reported: 1,
  before_init_bus_fault: 1,
  replaced_reported: 1,
  after_init_reported: 1,
  null_deref_handled: 1,
  null_deref_si_addr: 24,
  null_deref_sig: SIGSEGV,
  handler_mask_self: 1, // blocked in its handler (no SA_NODEFER)
  handler_mask_usr1: 1, // its sa_mask
  sigbus_handled: 1,
  sigbus_sig: SIGBUS,
  sigbus_si_addr_ok: 1,
  handler_calls: 2,
  kernel_segv_handler_is_programs: 0,
  usr1_passed_through: 1,
  dm_op_good: 0,
  dm_op_good_vcpus: 2,
  dm_op_unmapped: -EFAULT,
  dm_op_readonly: -EFAULT,
  dm_op_prot_none: -EFAULT,
  dm_op_noncanonical: -EFAULT,
  dm_op_straddle: -EFAULT,
  dm_op_truncated_file: -EFAULT,
  dm_op_arg_unmapped: -EFAULT,
  dm_op_ubufs_unmapped: -EFAULT,
  open_bad_path: -EFAULT,
  sigaction_bad_act: -EFAULT,
  sigaction_bad_oldact: -EFAULT,
  calls_during_bad_calls: 0, // the program's handler never saw the shim's faults
  nodefer_mask_self: 0,
  signal_reported: 1,
  signal_handled: 1,
  sysv_signal_once: 1,
  sigignore_reported: 1,
  sigset_hold: 1,
  resethand_first: 1,
  resethand_reported_dfl: 1,
  fork_child_ok: 1,
  swapcontext_blocked: 1, // its uc_sigmask blocks SIGSEGV: the shim's copies take process_vm_readv there
  stack_overflow_handled: 1, // SA_ONSTACK with sigaltstack: a runtime's stack-overflow check
  stack_overflow_on_altstack: 1,
  blocked_thread_efault: 1,
  threads_ok: 800,
  nested_main_ok: 1,
  nested_alarms: 1,
  nested_alarm_ok: 1,
  calls_during_threads: 0,
};

suite("guarded copies and the program's SIGSEGV/SIGBUS handlers", () => {
  let srv: RunningServer;
  let tmp = "";
  beforeAll(async () => {
    buildNative();
    srv = await startServer();
    tmp = mkdtempSync(join(tmpdir(), "xendm-guard-"));
  });
  afterAll(async () => {
    await srv.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("delivers real faults to the program's handlers, set before and after the shim's init, and keeps its own faults as EFAULT", async () => {
    const r = await run(SIGCHAIN, ["all", String(DOM)], shimEnv(srv.path));
    expect(r.code, r.stderr).toBe(0);
    expect(byCase(r.stdout)).toEqual(ALL_EXPECTED);
  });

  it("gives the same results through process_vm_readv/writev with XENDM_SHIM_GUARD=0", async () => {
    const r = await run(SIGCHAIN, ["all", String(DOM), "noguard"], shimEnv(srv.path, { XENDM_SHIM_GUARD: "0" }));
    expect(r.code, r.stderr).toBe(0);
    const expected = { ...ALL_EXPECTED };
    delete expected.sigaction_bad_act; // libc's own sigaction then, which reads act in user space
    delete expected.sigaction_bad_oldact;
    expected.kernel_segv_handler_is_programs = 1; // no handler of the shim's
    delete expected.nested_main_ok; // the same, in a signal handler
    delete expected.nested_alarms;
    delete expected.nested_alarm_ok;
    expect(byCase(r.stdout)).toEqual(expected);
  });

  const deaths: [string, number][] = [
    ["segv-dfl", 128 + SIGSEGV], // a handler, then SIG_DFL again
    ["segv-signal-dfl", 128 + SIGSEGV], // the same through signal()
    ["segv-ign", 128 + SIGSEGV], // an ignored fault takes the default action
    ["segv-blocked", 128 + SIGSEGV], // a blocked one too (and the shim's copies still give EFAULT)
    ["segv-resethand", 128 + SIGSEGV], // SA_RESETHAND: the second fault is the default's
    ["bus-dfl", 128 + SIGBUS],
    ["kill-dfl", 128 + SIGSEGV], // sent with kill(), not a fault
    ["kill-ign", 0], // sent and ignored: survives
  ];
  for (const [what, status] of deaths) {
    it(`${what}: exit status ${String(status)} from a shell, as without the shim`, async () => {
      const r = await shell(`ulimit -c 0; LD_PRELOAD="${SHIM}" "${SIGCHAIN}" die ${what} ${String(DOM)}; echo "status=$?"`, srv.path);
      expect(r.stdout.trim().split("\n").at(-1), r.stderr).toBe(`status=${String(status)}`);
    });
  }

  it("finds SIGSEGV ignored across exec: reported as SIG_IGN, bad buffers still EFAULT, a NULL dereference still kills", async () => {
    const r = await shell(`ulimit -c 0; trap '' SEGV; LD_PRELOAD="${SHIM}" "${SIGCHAIN}" ign-at-start ${String(DOM)}; echo "status=$?"`, srv.path);
    const lines = r.stdout.trim().split("\n");
    expect(lines.at(-1), r.stderr).toBe(`status=${String(128 + SIGSEGV)}`);
    expect(byCase(lines.slice(0, -1).join("\n"))).toEqual({ ign_reported: 1, ign_bad_dm_ops: 1 });
  });

  it("makes no process_vm_readv/writev call for a good DM_OP from libxendevicemodel (strace), and four or more per call without the guard", async (ctx) => {
    if (!hasStrace()) {
      if (ci) throw new Error("strace is not installed (scripts/setup.sh installs it)");
      process.stderr.write("\n*** test/native/guard: strace not found, the system-call count is NOT checked ***\n\n");
      ctx.skip();
    }
    const calls = 300;
    const count = async (guard: string, prog: readonly string[]): Promise<number> => {
      const out = join(tmp, `strace-${guard}.txt`);
      // the shim preloaded into the traced program only (-E), not into strace
      const args = ["-f", "-qq", "-o", out, "-e", "trace=process_vm_readv,process_vm_writev", "-E", `LD_PRELOAD=${SHIM}`, ...prog];
      const r = await run("strace", args, { XENDM_SOCKET: srv.path, XENDM_SHIM_GUARD: guard });
      expect(r.code, r.stderr).toBe(0);
      return readFileSync(out, "utf8").split("\n").filter((l) => l.includes("process_vm_")).length;
    };
    const library = [CONFORMANCE, "loop", String(calls), String(DOM)];
    expect(await count("1", library)).toBe(0);
    // without the guard every call reads the dm_op, the buffer array and the buffer, and probes it writable
    expect(await count("0", library)).toBeGreaterThanOrEqual(4 * calls);
    // a program with SIGBUS blocked: process_vm_* unless XENDM_SHIM_GUARD=2
    const busBlocked = [SIGCHAIN, "loop", String(calls), String(DOM), "block-bus"];
    expect(await count("1", busBlocked)).toBeGreaterThanOrEqual(4 * calls);
    expect(await count("2", busBlocked)).toBe(0);
  });
});
