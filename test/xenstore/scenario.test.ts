// Scenario files with xenstore: the seed, the steps and the query; bad input named by key.
import { describe, expect, it } from "vitest";
import { runScenario, ScenarioError } from "../../src/scenario/index.js";

const base = { format: 1, domains: [{ domid: 1 }, { domid: 2, target: 1 }] };

describe("scenario xenstore", () => {
  it("runs steps against the tree libxl makes; a wrong expectation fails the step with a diff", () => {
    const r = runScenario({
      ...base,
      xenstore: { "/local/domain/1/device/vif/0/state": { value: "1", perms: ["n1", "r0"] } },
      steps: [
        { query: { xenstore: { path: "/local/domain/1/device/vif/0/state" } }, expect: { exists: true, value: "1", perms: ["n1", "r0"], children: [] } },
        { xenstore: { read: "/local/domain/1/device/vif/0/state", domid: 2 }, expect: { value: "1" }, note: "the stub domain acts for domain 1" },
        { xenstore: { write: { path: "/local/domain/1/data/k", value: "x", perms: ["n1"] } }, expect: { ok: true } },
        { xenstore: { ls: "/local/domain/1/data" }, expect: { children: ["k"] } },
        { xenstore: { mkdir: "/made/here" }, expect: { ok: true } },
        { xenstore: { read: "/made/here" }, expect: { value: "not this" } },
        { query: { xenstore: { path: "/nowhere" } }, expect: { exists: false } },
      ],
    });
    expect(r.map((s) => s.pass)).toEqual([true, true, true, true, true, false, true]);
    expect(r[5]!.diff!.join()).toContain("not this");
    expect(r[0]!.action).toBe("query");
    expect(r[1]!.action).toBe("xenstore");
  });

  it("refuses bad xenstore input, naming the key", () => {
    const bad = (json: object): string => {
      try {
        runScenario({ ...base, ...json });
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        return (e as Error).message;
      }
      return "no error";
    };
    expect(bad({ xenstore: { "/a": { value: "v", perms: ["x1"] } } })).toBe('xenstore./a.perms[0]: "x1" is not a permission (n, r, w or b, then a domain id)');
    expect(bad({ xenstore: { "rel/path": "v" } })).toBe("xenstore.rel/path: a seeded path is absolute");
    expect(bad({ xenstore: { "/a": { valu: "v" } } })).toContain("xenstore./a");
    expect(bad({ steps: [{ xenstore: { read: "/a", rm: "/b" } }] })).toBe("steps[0].xenstore: expected exactly one of: write, read, rm, ls, mkdir");
    expect(bad({ steps: [{ xenstore: { write: { path: "/a", value: 3 } } }] })).toContain("steps[0].xenstore.write.value");
    expect(bad({ steps: [{ query: { xenstore: { path: "/a", deep: true } } }] })).toContain("steps[0].query.xenstore");
    expect(bad({ xenstore: { "/bad//path": "v" } })).toContain("EINVAL");
  });
});

describe("the toolstack's layout written into the xenstored", () => {
  it("src/toolstack writeLayout through XsLocalClient.writer()", async () => {
    const { hvmDomainLayout, writeLayout } = await import("../../src/toolstack/layout.js");
    const { XenstoreCore } = await import("../../src/xenstore/core.js");
    const { XsLocalClient } = await import("../../src/xenstore/client.js");
    const core = new XenstoreCore();
    const c = new XsLocalClient(core);
    await writeLayout(c.writer(), hvmDomainLayout({ domid: 5, memoryMb: 128 }, 1700000000));
    expect(c.getPerms("/local/domain/5")).toEqual(["n0", "r5"]);
    expect(c.read("/local/domain/5/domid")).toBe("5");
    expect(new XsLocalClient(core, 5).read("/local/domain/5/domid")).toBe("5");
  });
});

describe("a scenario's device model and its xenstored", () => {
  it("the device model gets XENSTORED_PATH; ready and wait poll the xenstore query", async () => {
    const { spawnSync } = await import("node:child_process");
    if (spawnSync("sh", ["-c", "command -v xenstore-write"]).status !== 0) {
      if (process.env.CI === "true") throw new Error("xenstore-utils not installed");
      console.warn("SKIPPING the device-model xenstore scenario: xenstore-utils not installed");
      return;
    }
    const { runScenarioLive } = await import("../../src/scenario/live.js");
    const { defaultCodec } = await import("../../src/scenario/index.js");
    const { createXenHost } = await import("../../src/scenario/xen-host.js");
    const script = [
      "xenstore-read /local/domain/1/domid > /dev/null || exit 4",
      // the guest side, on the domain's own socket
      "XENSTORED_PATH=$XENSTORED_PATH.d1 xenstore-write data/from-guest hi || exit 5",
      "xenstore-write /local/domain/0/device-model/1/state running || exit 3",
      "while :; do v=$(xenstore-read /local/domain/0/device-model/1/command 2>/dev/null); [ \"$v\" = stop ] && break; sleep 0.02; done",
      "xenstore-write /local/domain/0/device-model/1/state stopped",
    ].join("\n");
    const r = await runScenarioLive({
      format: 1,
      domains: [{ domid: 1 }],
      device_model: {
        exec: ["sh", "-c", script],
        ready: { query: { xenstore: { path: "/local/domain/0/device-model/1/state" } }, expect: { value: "running" } },
        timeout_ms: 20_000,
      },
      steps: [
        { query: { xenstore: { path: "/local/domain/1/data/from-guest" } }, expect: { exists: true, value: "hi", perms: ["n1"] } },
        { xenstore: { write: { path: "/local/domain/0/device-model/1/command", value: "stop" } }, expect: { ok: true } },
        { wait: { query: { xenstore: { path: "/local/domain/0/device-model/1/state" } }, expect: { value: "stopped" } }, timeout_ms: 10_000 },
        { device_model: "stop" },
      ],
    }, { codec: defaultCodec, createHost: createXenHost });
    expect(r.map((s) => [s.action, s.pass, s.diff])).toEqual([["query", true, undefined], ["xenstore", true, undefined], ["wait", true, undefined], ["device_model", true, undefined]]);
  });
});
