// `xendm serve --xenstore PATH`: the xenstored beside the fake (docs/xenstore.md).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { parseXenstoreSeed } from "../scenario/xenstore-steps.js";
import { startHostXenstored, type XenstoredServer, type XsSeed } from "../xenstore/index.js";

/** The world file's `xenstore` key, when it has one */
function seedOf(worldFile: string | undefined): XsSeed | undefined {
  if (worldFile === undefined) return undefined;
  const json = JSON.parse(readFileSync(worldFile, "utf8")) as { xenstore?: unknown };
  if (json.xenstore === undefined) return undefined;
  try {
    return parseXenstoreSeed(json.xenstore);
  } catch (e) {
    throw new Error(`${worldFile}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export async function serveXenstore(hv: Hypervisor, path: string, worldFile: string | undefined, log: ((l: string) => void) | undefined): Promise<XenstoredServer> {
  const seed = seedOf(worldFile);
  const xs = await startHostXenstored(hv, path, { ...(seed !== undefined ? { seed } : {}), ...(log !== undefined ? { log: (l: string) => { log(`xenstored: ${l}`); } } : {}) });
  process.stderr.write(`xendm serve: xenstored listening on ${xs.paths.join(", ")}\n`);
  return xs;
}

/** `xendm exec --xenstore`: a xenstored on a private socket, gone with the directory when closed */
export async function privateXenstore(hv: Hypervisor, worldFile: string | undefined, log: ((l: string) => void) | undefined): Promise<{ path: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "xendm-xenstored-"));
  const path = join(dir, "xenstored.sock");
  const seed = seedOf(worldFile);
  const xs = await startHostXenstored(hv, path, { ...(seed !== undefined ? { seed } : {}), ...(log !== undefined ? { log: (l: string) => { log(`xenstored: ${l}`); } } : {}) });
  return {
    path,
    close: async () => {
      await xs.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
