// /dev/xen/gntdev and /dev/xen/gntalloc under the shim, with Debian's real libxengnttab: real fds,
// answered as a host with no grants to give.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BUILD, buildNative, jsonLines, nativeMissing, run, shimEnv, startServer } from "./harness.js";

const CLIENT = join(BUILD, "gntclient");
const EINVAL = 22, ENOSPC = 28, GNTST_bad_gntref = -4;

const missing = nativeMissing();
const ci = process.env.CI === "true";
if (missing !== undefined && !ci) {
  process.stderr.write(`\n*** test/native/gnt SKIPPED: ${missing}. gntdev/gntalloc are NOT tested here. ***\n\n`);
}
const suite = missing !== undefined && !ci ? describe.skip : describe;

suite("gntdev and gntalloc through the shim (libxengnttab)", () => {
  beforeAll(() => { buildNative(); });

  it("opens both devices; maps fail at mmap (EINVAL), copies report GNTST_bad_gntref, sharing finds no entries", async () => {
    const srv = await startServer();
    try {
      const r = await run(CLIENT, [], shimEnv(srv.path));
      expect(r.code, r.stderr).toBe(0);
      expect(jsonLines(r.stdout)).toEqual([
        { case: "gnttab open", ret: 0, errno: 0 },
        { case: "map grant ref", ret: -1, errno: EINVAL },
        { case: "copy nothing", ret: 0, errno: 0 },
        { case: "copy one", ret: 0, status: GNTST_bad_gntref },
        { case: "copy local to local", ret: -1, errno: EINVAL },
        { case: "gntshr open", ret: 0, errno: 0 },
        { case: "share pages", ret: -1, errno: ENOSPC },
      ]);
    } finally {
      await srv.close();
    }
  });

  it("without the shim the same program finds no devices (on a machine that is not a Xen host)", async (ctx) => {
    if (existsSync("/dev/xen/gntdev")) ctx.skip();
    const r = await run(CLIENT, [], {});
    expect(r.code).toBe(1);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ case: "gnttab open", ret: -1 });
  });
});
