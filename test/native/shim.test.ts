// The LD_PRELOAD shim under Debian's real libxendevicemodel, against the socket server in this process.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFakeHost } from "../../src/transport/fake.js";
import { CAPTURE_FIXTURE } from "./capture.js";
import { REPLAYABLE, replay, sentFromCapture } from "./dm-replay.js";
import {
  CONFORMANCE, DOM, NATIVE, RAWCLIENT, WORLD, XENDEVICEMODEL_H, buildNative, groupCapture, jsonLines, nativeMissing, run,
  shimEnv, startCliServer, startServer, type Json,
} from "./harness.js";

const EPERM = 1, ENOENT = 2, ESRCH = 3, E2BIG = 7, EBADF = 9, EFAULT = 14, EINVAL = 22, ENOTTY = 25;
const EOPNOTSUPP = 95, ECONNREFUSED = 111;
const BAD_DOM = 0x1234;

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/native SKIPPED: ${missing}. The LD_PRELOAD shim is NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

let tmp = "";

function byCase(lines: Json[]): Map<string, { ret: number; errno: number }> {
  return new Map(lines.map((l) => [String(l.case), { ret: Number(l.ret), errno: Number(l.errno) }]));
}

/** Runs `conformance all` under the shim with a capture; returns the driver's lines and the capture. */
async function conformance(noDmOp: boolean): Promise<{ lines: Json[]; capture: Json[]; stderr: string }> {
  const srv = await startServer();
  const cap = join(tmp, `cap-${noDmOp ? "hcall" : "ioctl"}-${String(Date.now())}.jsonl`);
  try {
    const env = shimEnv(srv.path, { XENDM_CAPTURE: cap, ...(noDmOp ? { XENDM_SHIM_NO_DMOP: "1" } : {}) });
    const r = await run(CONFORMANCE, ["all", String(DOM)], env);
    expect(r.code, r.stderr).toBe(0);
    return { lines: jsonLines(r.stdout), capture: jsonLines(readFileSync(cap, "utf8")), stderr: r.stderr };
  } finally {
    await srv.close();
  }
}

function find(lines: Json[], fn: string, pred: (a: Json) => boolean = () => true): Json {
  const l = lines.find((x) => x.fn === `xendevicemodel_${fn}` && pred((x.args ?? {}) as Json));
  if (l === undefined) throw new Error(`no ${fn} line`);
  return l;
}

suite("LD_PRELOAD privcmd shim", () => {
  let ioctlRun: { lines: Json[]; capture: Json[]; stderr: string };
  let hcallRun: { lines: Json[]; capture: Json[]; stderr: string };

  beforeAll(async () => {
    buildNative();
    tmp = mkdtempSync(join(tmpdir(), "xendm-native-"));
    ioctlRun = await conformance(false);
    hcallRun = await conformance(true);
  });
  afterAll(() => {
    if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
  });

  it("compiles for i386, arm64 and arm32 with each ABI's ioctl numbers (where the cross compilers exist)", () => {
    const out = execFileSync("make", ["-s", "-C", NATIVE, "cross"], { encoding: "utf8" });
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/: (ok|not installed)$/);
    if (ci) for (const l of lines) expect(l).toMatch(/: ok$/);
  });

  it("leaves ordinary files, /dev/null, pipes and TCGETS alone", async () => {
    const dir = mkdtempSync(join(tmp, "plain-"));
    const bare = await run(RAWCLIENT, ["plain", dir], {});
    const srv = await startServer();
    try {
      const shimmed = await run(RAWCLIENT, ["plain", dir], shimEnv(srv.path));
      expect(shimmed.code).toBe(0);
      expect(shimmed.stdout).toBe(bare.stdout);
      expect(srv.server.stats.connections).toBe(0);
      const c = byCase(jsonLines(shimmed.stdout));
      expect(c.get("openat_read")).toEqual({ ret: 11, errno: 0 });
      expect(c.get("read_matches")?.ret).toBe(0);
      expect(c.get("devnull_read")).toEqual({ ret: 0, errno: 0 });
      expect(c.get("tcgets_pipe")).toEqual({ ret: -1, errno: ENOTTY });
      expect(c.get("fionread_pipe")).toEqual({ ret: 3, errno: 0 });
      expect(c.get("close_bad")).toEqual({ ret: -1, errno: EBADF });
      expect(c.get("mmap_file")?.ret).toBe(0);
    } finally {
      await srv.close();
    }
  });

  it("passes everything through without XENDM_SOCKET", async () => {
    const r = await run(CONFORMANCE, ["open"], { LD_PRELOAD: shimEnv("").LD_PRELOAD });
    const open = jsonLines(r.stdout)[0];
    if (existsSync("/dev/xen/privcmd")) return; // a real Xen host: the real device answers
    expect(open).toMatchObject({ fn: "xendevicemodel_open", rc: -1, errno: ENOENT });
    expect(r.stderr).not.toContain("xendm-shim");
  });

  it("fails the open with ENOENT and one stderr line when the server is absent", async () => {
    const r = await run(CONFORMANCE, ["open"], shimEnv(join(tmp, "no-such-socket")));
    expect(jsonLines(r.stdout)[0]).toMatchObject({ fn: "xendevicemodel_open", rc: -1, errno: ENOENT });
    const shimLines = r.stderr.split("\n").filter((l) => l.startsWith("xendm-shim:"));
    expect(shimLines).toHaveLength(1);
    expect(shimLines[0]).toContain("no-such-socket");
  });

  it("fails the open with ECONNREFUSED when nobody listens on the socket", async () => {
    const sock = join(tmp, "dead.sock");
    const b = await run(RAWCLIENT, ["bindonly", sock], {});
    expect(b.code).toBe(0);
    const r = await run(CONFORMANCE, ["open"], shimEnv(sock));
    expect(jsonLines(r.stdout)[0]).toMatchObject({ fn: "xendevicemodel_open", rc: -1, errno: ECONNREFUSED });
    expect(r.stderr.split("\n").filter((l) => l.startsWith("xendm-shim:"))).toHaveLength(1);
  });

  it("says HELLO with XENDM_CALLER and the x86_64 ABI on every privcmd open", async () => {
    const rec = join(tmp, "hello-trace.jsonl");
    const srv = await startServer(WORLD, rec);
    try {
      const r = await run(CONFORMANCE, ["open"], shimEnv(srv.path, { XENDM_CALLER: "7" }));
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await srv.close();
    }
    const hellos = jsonLines(readFileSync(rec, "utf8")).filter((l) => l.kind === "hello");
    expect(hellos).toHaveLength(2); // libxencall's fd and libxendevicemodel's own
    for (const h of hellos) expect(h).toMatchObject({ caller: 7, abi: 0, name: "libxendm-shim x86_64" });
  });

  it("returns -1/errno for raw privcmd ioctls as the kernel does", async () => {
    const srv = await startServer();
    try {
      const r = await run(RAWCLIENT, ["privcmd", String(DOM)], shimEnv(srv.path, { XENDM_CALLER: "0" }));
      expect(r.code, r.stderr).toBe(0);
      const c = byCase(jsonLines(r.stdout));
      const expected: Record<string, [number, number]> = {
        open_hypercall_dev: [-1, ENOENT],
        open_privcmd: [0, 0],
        cloexec: [1, 0],
        dm_op_null_arg: [-1, EFAULT],
        dm_op_probe: [0, 0],
        dm_op_num_17: [-1, E2BIG],
        dm_op_ubufs_null: [-1, EFAULT],
        dm_op_buf_null: [-1, EFAULT],
        dm_op_buf_4097: [-1, E2BIG],
        dm_op_buf_readonly: [-1, EFAULT],
        dm_op_buf_size_max: [-1, E2BIG],
        dm_op_num_max: [-1, E2BIG],
        dm_op_nr_vcpus: [0, 0],
        dm_op_three_bufs: [-1, E2BIG],
        dm_op_bad_op: [-1, EOPNOTSUPP],
        dm_op_second_buf_readonly: [-1, EFAULT],
        dm_op_second_buf_readonly_buf0: [0xeeeeeeee, 0],
        dm_op_two_bufs_nr_vcpus: [0, 0],
        ioctl_unknown: [-1, ENOTTY],
        ioctl_tcgets: [-1, ENOTTY],
        hypercall_null_arg: [-1, EFAULT],
        hypercall_hvm_op: [-1, EFAULT], // HVMOP_set_param of a NULL xen_hvm_param: copy_from_guest fails
        hypercall_dm_op_nr_vcpus: [0, 0],
        hypercall_dm_op_buf_null: [-1, EFAULT],
        mmap_privcmd: [0, 0],
        open_proc_privcmd: [0, 0],
        cloexec2: [0, 0],
        restrict_null_arg: [-1, EFAULT],
        restrict: [0, 0],
        restrict_same: [0, 0],
        restrict_other: [-1, EINVAL],
        restricted_probe: [-1, EPERM],
        restricted_hypercall: [-1, EPERM],
        restricted_hypercall_null_arg: [-1, EPERM],
        unrestricted_other_fd_probe: [0, 0],
        dup_restricted_probe: [-1, EPERM],
        fcntl_dupfd_restricted_probe: [-1, EPERM],
        close: [0, 0],
        closed_fd_ioctl: [-1, EBADF],
        dup_after_close_dm_op: [0, 0],
        dup2_over_privcmd_ioctl: [-1, ENOTTY],
      };
      for (const [name, [ret, errno]] of Object.entries(expected)) {
        expect({ name, ...c.get(name) }).toEqual({ name, ret, errno });
      }
      // the bytes Xen wrote come back into the caller's memory, on both ioctls
      const vcpus = c.get("dm_op_nr_vcpus_out")?.ret;
      expect(vcpus).toBeGreaterThan(0);
      expect(c.get("hypercall_dm_op_nr_vcpus_out")?.ret).toBe(vcpus);
      expect(c.get("dm_op_two_bufs_nr_vcpus_out")?.ret).toBe(vcpus);
      expect(srv.server.stats.connections).toBe(2); // one per open of privcmd; dups share theirs
    } finally {
      await srv.close();
    }
  });

  it("calls every public function of xendevicemodel.h on the ioctl path", () => {
    const header = readFileSync(XENDEVICEMODEL_H, "utf8");
    const publicFns = new Set([...header.matchAll(/^\s*(?:int|xendevicemodel_handle \*)\s*(xendevicemodel_\w+)\(/gm)].map((m) => m[1]));
    const called = new Set(ioctlRun.lines.map((l) => l.fn));
    expect(publicFns.size).toBe(26); // xendevicemodel.h of Xen 4.17
    for (const fn of publicFns) expect(called.has(fn), fn).toBe(true);
    for (const fn of publicFns) if (fn !== undefined && fn !== "xendevicemodel_open" && fn !== "xendevicemodel_close") expect(REPLAYABLE).toContain(fn);

    const L = ioctlRun.lines;
    expect(find(L, "open")).toMatchObject({ rc: 0 });
    expect(find(L, "nr_vcpus", (a) => a.domid === BAD_DOM)).toMatchObject({ rc: -1, errno: ESRCH });
    expect(find(L, "create_ioreq_server", (a) => a.domid === BAD_DOM)).toMatchObject({ rc: -1, errno: ESRCH });
    expect(find(L, "create_ioreq_server", (a) => a.handle_bufioreq === 511)).toMatchObject({ rc: -1, errno: EINVAL });
    // refused by the library itself: EINVAL
    expect(find(L, "map_pcidev_to_ioreq_server", (a) => a.device === 32)).toMatchObject({ rc: -1, errno: EINVAL });
    expect(find(L, "map_pcidev_to_ioreq_server", (a) => a.function === 8)).toMatchObject({ rc: -1, errno: EINVAL });
    expect(find(L, "map_mem_type_to_ioreq_server", (a) => a.flags === 1)).toMatchObject({ rc: -1, errno: EINVAL });
    expect(find(L, "map_mem_type_to_ioreq_server", (a) => a.type === 0)).toMatchObject({ rc: -1, errno: EINVAL });
    const restricts = L.filter((l) => l.fn === "xendevicemodel_restrict");
    expect(restricts.map((l) => [l.rc, l.errno])).toEqual([[0, 0], [0, 0], [-1, EINVAL]]);
    // restricted: the bad domain now gets EPERM from privcmd before Xen's ESRCH
    expect(L.filter((l) => l.fn === "xendevicemodel_nr_vcpus").at(-1)).toMatchObject({ rc: -1, errno: EPERM });
    expect(L.filter((l) => l.fn === "xendevicemodel_close").map((l) => l.rc)).toEqual([0, 0]);
  });

  it("captures the library's bytes: no ioctl for library-refused calls, one DM_OP per call otherwise", () => {
    const calls = groupCapture(ioctlRun.capture);
    expect(calls.map((c) => c.fn)).toEqual(ioctlRun.lines.map((l) => l.fn));
    ioctlRun.lines.forEach((l, i) => {
      const c = calls[i];
      if (c === undefined) throw new Error("capture too short");
      const refused = l.rc === -1 && l.errno === EINVAL && /pcidev|mem_type_to/.test(String(l.fn)) &&
        c.ioctls.length === 0;
      if (l.fn === "xendevicemodel_open") {
        expect(c.ioctls).toEqual([expect.objectContaining({ ioctl: "IOCTL_PRIVCMD_DM_OP", dom: 0x7ff4, num: 0, ret: 0 })]);
      } else if (l.fn === "xendevicemodel_close") {
        expect(c.ioctls).toEqual([]);
      } else if (l.fn === "xendevicemodel_restrict") {
        expect(c.ioctls).toEqual([expect.objectContaining({ ioctl: "IOCTL_PRIVCMD_RESTRICT", dom: (l.args as Json).domid })]);
      } else if (!refused) {
        expect(c.ioctls, String(l.fn)).toHaveLength(1);
        const io = c.ioctls[0] as Json;
        expect(io.ioctl).toBe("IOCTL_PRIVCMD_DM_OP");
        expect(io.ret === -1 ? -1 : 0).toBe(l.rc);
        if (l.rc === -1) expect(io.errno).toBe(l.errno);
        const b0 = (io.bufs as Json[])[0] as Json;
        expect(b0.size).toBe(32);
      }
    });
    // the worked example of the reference: inject_event's buffer 0
    const ev = calls.find((c, i) => c.fn === "xendevicemodel_inject_event" && (ioctlRun.lines[i]?.args as Json).vector === 14);
    const b0 = ((ev?.ioctls[0] as Json).bufs as Json[])[0] as Json;
    expect(b0.before).toBe("0d000000" + "00000000" + "00000000" + "0e030000" + "12000000" + "00000000" + "fecaefbeadde0000");
  });

  it("takes the hypercall fallback when the DM_OP probe fails (XENDM_SHIM_NO_DMOP)", () => {
    const calls = groupCapture(hcallRun.capture);
    expect(calls[0]?.ioctls).toEqual([expect.objectContaining({ ioctl: "IOCTL_PRIVCMD_DM_OP", unsupported: true, ret: -1, errno: ENOTTY })]);
    const rest = calls.slice(1).flatMap((c) => c.ioctls);
    expect(rest.length).toBeGreaterThan(40);
    for (const io of rest) expect(io).toMatchObject({ ioctl: "IOCTL_PRIVCMD_HYPERCALL", op: 41 });
    // restrict is not available without the DM_OP fd
    const restricts = hcallRun.lines.filter((l) => l.fn === "xendevicemodel_restrict");
    expect(restricts.map((l) => [l.rc, l.errno])).toEqual([[-1, EOPNOTSUPP], [-1, EOPNOTSUPP], [-1, EOPNOTSUPP]]);
    // every other result is the ioctl path's (fresh, identical worlds); the last nr_vcpus is unrestricted here
    const differs = (fn: unknown): boolean => fn === "xendevicemodel_restrict";
    const a = ioctlRun.lines.filter((l) => !differs(l.fn)).slice(0, -4);
    const b = hcallRun.lines.filter((l) => !differs(l.fn)).slice(0, -4);
    expect(b).toEqual(a);
    expect(hcallRun.lines.filter((l) => l.fn === "xendevicemodel_nr_vcpus").at(-1)).toMatchObject({ rc: -1, errno: ESRCH });
    // the buffers are byte-identical on both paths
    const before = (cs: typeof calls, kind: string): string[] =>
      cs.flatMap((c) => c.ioctls).filter((io) => io.ioctl === kind).flatMap((io) => (io.bufs as Json[]).map((x) => String(x.before)));
    const viaIoctl = before(groupCapture(ioctlRun.capture), "IOCTL_PRIVCMD_DM_OP");
    const viaHcall = before(calls, "IOCTL_PRIVCMD_HYPERCALL");
    expect(viaIoctl.length).toBeGreaterThan(40);
    expect(viaHcall).toEqual(viaIoctl);
  });

  it("gives a forked child its own connection, still restricted, without disturbing the parent", async () => {
    const srv = await startServer();
    try {
      const r = await run(RAWCLIENT, ["fork", String(DOM)], shimEnv(srv.path));
      expect(r.code, r.stderr).toBe(0);
      const c = byCase(jsonLines(r.stdout));
      expect(c.get("restrict")).toEqual({ ret: 0, errno: 0 });
      expect(c.get("child_calls_ok")?.ret).toBe(200);
      expect(c.get("parent_calls_ok")?.ret).toBe(200);
      expect(c.get("child_still_restricted")).toEqual({ ret: -1, errno: EPERM });
      expect(c.get("child_exit")?.ret).toBe(0);
      expect(c.get("parent_after_child")?.ret).toBe(0);
      expect(srv.server.stats.connections).toBe(2);
    } finally {
      await srv.close();
    }
  });

  it("never fails a privcmd ioctl with EINTR (interval timer, handler without SA_RESTART)", async () => {
    const srv = await startServer();
    try {
      const r = await run(RAWCLIENT, ["signals", String(DOM)], shimEnv(srv.path));
      expect(r.code, r.stderr).toBe(0);
      const c = byCase(jsonLines(r.stdout));
      expect(c.get("alarms_seen")?.ret).toBe(1);
      expect([c.get("calls_ok")?.ret, c.get("calls_eintr")?.ret, c.get("calls_other")?.ret]).toEqual([1000, 0, 0]);
    } finally {
      await srv.close();
    }
  });

  it("fails calls with EIO, without hanging, when the server goes away mid-run", async () => {
    const srv = await startServer();
    const pending = run(CONFORMANCE, ["loop", "50000", String(DOM)], shimEnv(srv.path));
    // close once calls are flowing (not on a fixed delay: a loaded machine starts slowly)
    for (let i = 0; i < 400 && srv.server.stats.requests < 200; i++) await new Promise((r) => setTimeout(r, 25));
    await srv.close();
    const r = await pending;
    expect(r.code).toBe(1);
    const line = jsonLines(r.stdout)[0];
    expect(Number(line?.failures)).toBeGreaterThan(0);
    expect(line?.last_errno).toBe(5); // EIO
    expect(Number(line?.calls) - Number(line?.failures)).toBeGreaterThan(0);
  });

  for (const noDmOp of [false, true]) {
    it(`xentoolcore_restrict_all: RESTRICT on the DM_OP fd, /dev/null dup2'd over libxencall's (${noDmOp ? "hypercall" : "ioctl"} path)`, async () => {
      const srv = await startServer();
      try {
        const r = await run(CONFORMANCE, ["toolcore", String(DOM)], shimEnv(srv.path, noDmOp ? { XENDM_SHIM_NO_DMOP: "1" } : {}));
        expect(r.code, r.stderr).toBe(0);
        const rows = jsonLines(r.stdout).map((l) => [l.fn, (l.args as Json).domid, l.rc, l.errno]);
        const after = noDmOp
          ? [[-1, ENOTTY], [-1, ENOTTY]] // the hypercall fd is /dev/null now
          : [[0, 0], [-1, EPERM]]; // the DM_OP fd is restricted to DOM
        expect(rows).toEqual([
          ["xendevicemodel_open", undefined, 0, 0],
          ["xendevicemodel_nr_vcpus", DOM, 0, 0],
          ["xentoolcore_restrict_all", DOM, 0, 0],
          ["xendevicemodel_nr_vcpus", DOM, ...(after[0] ?? [])],
          ["xendevicemodel_nr_vcpus", BAD_DOM, ...(after[1] ?? [])],
          ["xendevicemodel_close", undefined, 0, 0],
        ]);
      } finally {
        await srv.close();
      }
    });
  }

  it("stops using its socket when the program closes it (a close-everything loop), never writing into a reused fd", async () => {
    const srv = await startServer();
    const dir = mkdtempSync(join(tmp, "closeall-"));
    try {
      const cap = join(dir, "capture.jsonl");
      const r = await run(RAWCLIENT, ["closeall", String(DOM), dir], shimEnv(srv.path, { XENDM_CAPTURE: cap }));
      expect(r.code, r.stderr).toBe(0);
      // the capture file's fd was closed too: it is reopened, and nothing went into the program's fds
      const dmops = jsonLines(readFileSync(cap, "utf8")).filter((l) => l.ioctl === "IOCTL_PRIVCMD_DM_OP");
      expect(dmops.map((l) => [l.ret, l.errno])).toEqual([[0, 0], [-1, 5]]);
      const c = byCase(jsonLines(r.stdout));
      expect(c.get("before")).toEqual({ ret: 0, errno: 0 });
      expect(c.get("after")).toEqual({ ret: -1, errno: 5 }); // EIO, not a hang on the program's socket
      expect(c.get("victim_socket_bytes")).toEqual({ ret: 0, errno: 0 });
      expect(c.get("victim_file_size")).toEqual({ ret: 0, errno: 0 });
      expect(c.get("close_privcmd")).toEqual({ ret: 0, errno: 0 });
    } finally {
      await srv.close();
    }
  });

  it("keeps replies straight with 8 threads x 500 calls on one handle", async () => {
    const srv = await startServer();
    try {
      const r = await run(CONFORMANCE, ["threads", "8", "500", String(DOM)], shimEnv(srv.path));
      expect(r.code, r.stderr).toBe(0);
      const t = jsonLines(r.stdout);
      expect(t).toHaveLength(8);
      for (const w of t) expect(w).toMatchObject({ create_rc: 0, ok: 500, bad: 0 });
      expect(new Set(t.map((w) => w.id)).size).toBe(8);
      expect(new Set(t.map((w) => w.port)).size).toBe(8);
    } finally {
      await srv.close();
    }
  });

  it("keeps replies straight when polling for them (XENDM_SHIM_SPIN_US), 4 threads x 300 calls", async () => {
    const srv = await startServer();
    try {
      const r = await run(CONFORMANCE, ["threads", "4", "300", String(DOM)], shimEnv(srv.path, { XENDM_SHIM_SPIN_US: "50" }));
      expect(r.code, r.stderr).toBe(0);
      const t = jsonLines(r.stdout);
      expect(t).toHaveLength(4);
      for (const w of t) expect(w).toMatchObject({ create_rc: 0, ok: 300, bad: 0 });
    } finally {
      await srv.close();
    }
  });

  it("matches the committed capture fixture (what the library sends, on both paths)", () => {
    // Only what the library produced is compared: the results and bytes after depend on the server.
    const project = (l: Json): Json => {
      if (typeof l.ioctl !== "string") return l;
      const { ioctl, dom, num, nr, op, unsupported } = l;
      const bufs = Array.isArray(l.bufs) ? (l.bufs as Json[]).map((b) => ({ size: b.size, before: b.before })) : undefined;
      return { ioctl, dom, num, nr, op, unsupported, bufs };
    };
    const fixture = jsonLines(readFileSync(CAPTURE_FIXTURE, "utf8"));
    expect(fixture[0]).toMatchObject({ xendm_capture: 1, abi: "x86_64" });
    const split = fixture.findIndex((l) => l.run === "hypercall");
    expect(fixture[1]).toMatchObject({ run: "ioctl" });
    expect(fixture.slice(2, split).map(project)).toEqual(ioctlRun.capture.map(project));
    expect(fixture.slice(split + 1).map(project)).toEqual(hcallRun.capture.map(project));
  });

  it("runs against the xendm serve CLI: the server receives exactly the bytes the library sent, and its replies arrive intact", async () => {
    const rec = join(tmp, "serve-record.jsonl");
    const cap = join(tmp, "serve-capture.jsonl");
    const srv = await startCliServer(rec, ["--domain", String(DOM)]);
    let r;
    try {
      r = await run(CONFORMANCE, ["all", String(DOM)], shimEnv(srv.path, { XENDM_CAPTURE: cap }));
    } finally {
      const log = await srv.stop();
      expect(log).toContain("stopped");
    }
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout).map((l) => [l.fn, l.rc, l.errno])).toEqual(ioctlRun.lines.map((l) => [l.fn, l.rc, l.errno]));
    const sentByLib = jsonLines(readFileSync(cap, "utf8"))
      .filter((l) => l.ioctl === "IOCTL_PRIVCMD_DM_OP")
      .map((l) => ({
        dom: l.dom, num: l.num, in: (l.bufs as Json[]).map((b) => b.before), ret: l.ret, errno: l.errno,
        out: (l.bufs as Json[]).flatMap((b) => (typeof b.after === "string" ? [b.after] : [])),
      }));
    const seenByServer = jsonLines(readFileSync(rec, "utf8"))
      .filter((l) => l.kind === "dm_op")
      .map((l) => ({ dom: l.dom, num: l.num, in: (l.bufs as Json[]).map((b) => b.in), ret: l.ret, errno: l.errno, out: l.out }));
    expect(sentByLib.length).toBeGreaterThan(40);
    expect(seenByServer).toEqual(sentByLib);
  });

  for (const path of ["ioctl", "hypercall"] as const) {
    it(`sends the same bytes and gets the same results as DeviceModel (${path} path)`, async () => {
      const runData = path === "ioctl" ? ioctlRun : hcallRun;
      const { device } = createFakeHost(WORLD);
      const ts = await replay(device, runData.lines, path === "hypercall");
      const calls = groupCapture(runData.capture);
      expect(ts.map((t) => t.fn)).toEqual(calls.map((c) => c.fn));
      ts.forEach((t, i) => {
        const c = runData.lines[i] as Json;
        const label = `${t.fn} #${String(i)}`;
        expect({ label, sent: t.sent }).toEqual({ label, sent: (calls[i]?.ioctls ?? []).map(sentFromCapture) });
        expect({ label, rc: t.rc, errno: t.errno }).toEqual({ label, rc: c.rc, errno: c.errno });
        if (c.rc === 0) expect({ label, out: c.out }).toMatchObject({ label, out: t.out });
      });
    });
  }
});
