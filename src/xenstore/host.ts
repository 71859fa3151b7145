// The xenstored beside a fake host: the domains it knows introduced, their /local/domain/<d> made as
// libxl makes it, the world file's `xenstore` entries written, one socket for dom0 tools and one per domain.
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import { XsLocalClient } from "./client.js";
import { XenstoreCore, type XenstoreOptions } from "./core.js";
import { domainPath } from "./domain.js";
import { checkDomains, type XsDomainInfo } from "./handlers-domain.js";
import { XsError } from "./errors.js";
import { parsePerm } from "./perms.js";
import { XenstoredServer, type XenstoredServerOptions } from "./server.js";

export interface XsDomainSpec {
  domid: number;
  type?: "hvm" | "pv";
  vcpus?: number;
  /** the domain this one is the device model of (SET_TARGET) */
  target?: number | null;
  name?: string;
}

/** A world file's `xenstore` key: path -> value, or { value, perms } */
export type XsSeed = Record<string, string | { value?: string; perms?: string[] }>;

export const domainUuid = (domid: number): string => `00000000-0000-4000-8000-${domid.toString(16).padStart(12, "0")}`;

/**
 * mirrors libxl_create.c:libxl__domain_make and libxl_dom.c:libxl__build_post (the nodes a device model
 * or a guest looks for): /local/domain/<d> owned by dom0 and readable by d, its writable subdirectories
 * owned by d, /vm/<uuid> and /libxl/<d>; then the domain is introduced (@introduceDomain).
 */
export function createDomainNodes(core: XenstoreCore, spec: XsDomainSpec): void {
  const c = new XsLocalClient(core);
  const d = spec.domid;
  const dom = domainPath(d);
  const vm = `/vm/${domainUuid(d)}`;
  const ro = ["n0", `r${d}`];
  const rw = [`n${d}`];
  const hvm = (spec.type ?? "hvm") === "hvm";
  const mknod = (path: string, perms: string[]): void => { c.write(path, ""); c.setPerms(path, perms); };
  // libxl ignores the result of these xs_rm calls (nothing to remove on a fresh tree)
  const rm = (path: string): void => { try { c.rm(path); } catch { /* nothing there */ } };
  try {
    rm(dom);
    mknod(dom, ro);
    rm(vm);
    mknod(vm, ro);
    mknod(`/libxl/${d}`, ["n0"]);
    mknod(`/libxl/${d}/device`, ["n0"]);
    c.write(`${dom}/vm`, vm);
    c.write(`${dom}/name`, spec.name ?? `domain-${d}`);
    for (const p of ["cpu", "memory", "device", "control", ...(hvm ? ["hvmloader"] : [])]) mknod(`${dom}/${p}`, ro);
    for (const p of ["control/shutdown", "control/feature-poweroff", "control/feature-reboot", "control/feature-suspend",
      ...(hvm ? ["control/feature-s3", "control/feature-s4"] : []), "control/sysrq", "data", "drivers", "feature", "attr", "error"]) {
      mknod(`${dom}/${p}`, rw);
    }
    c.write(`${vm}/uuid`, domainUuid(d));
    c.write(`${vm}/name`, spec.name ?? `domain-${d}`);
    c.write(`${dom}/control/platform-feature-multiprocessor-suspend`, "1");
    c.write(`${dom}/control/platform-feature-xs_reset_watches`, "1");
    c.write(`/libxl/${d}/type`, hvm ? "hvm" : "pv");
    c.write(`${dom}/domid`, String(d));
    for (let i = 0; i < (spec.vcpus ?? 1); i++) c.write(`${dom}/cpu/${i}/availability`, "online");
    c.introduce(d);
  } finally {
    c.close();
  }
}

/** Writes a world file's `xenstore` entries as dom0 (perms like xenstore-chmod's: "n0", "r1", ...). */
export function seedTree(core: XenstoreCore, seed: XsSeed, what = "xenstore"): void {
  const c = new XsLocalClient(core);
  try {
    for (const [path, v] of Object.entries(seed)) {
      const entry = typeof v === "string" ? { value: v } : v;
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new Error(`${what}.${path}: a string or { value, perms }`);
      for (const k of Object.keys(entry)) if (k !== "value" && k !== "perms") throw new Error(`${what}.${path}: unknown key '${k}'`);
      if (entry.value !== undefined && typeof entry.value !== "string") throw new Error(`${what}.${path}.value: not a string`);
      if (entry.perms !== undefined) {
        if (!Array.isArray(entry.perms) || entry.perms.length === 0) throw new Error(`${what}.${path}.perms: a non-empty list like ["n0", "r1"]`);
        entry.perms.forEach((p, i) => {
          try {
            if (typeof p !== "string") throw new XsError("EINVAL");
            parsePerm(p);
          } catch {
            throw new Error(`${what}.${path}.perms[${i}]: ${JSON.stringify(p)} is not a permission (n|r|w|b then a domid)`);
          }
        });
      }
      try {
        c.write(path, entry.value ?? "");
        if (entry.perms !== undefined) c.setPerms(path, entry.perms);
      } catch (e) {
        throw new Error(`${what}.${path}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    c.close();
  }
}

export interface HostXenstoreOptions extends XenstoredServerOptions {
  /** written after the domains' nodes */
  seed?: XsSeed;
  /** also listen on `${path}.d<domid>` for each domain (its guest-side clients); default true */
  domainSockets?: boolean;
  /** how often a Hypervisor's domains are checked for shutdown and destruction (default 200 ms) */
  checkDomainsMs?: number;
}

/** xc_domain_getinfo on the fake */
export function hostDomainInfo(hv: Hypervisor, domid: number): XsDomainInfo | undefined {
  const d = hv.domain(domid);
  if (d === undefined) return undefined;
  return { shutdown: d.shutdown.code !== null, crashed: d.crashed !== null, dying: d.isDying };
}

/** The domains of a fake host, as the xenstore integration sees them */
export function domainsOf(hv: Hypervisor): XsDomainSpec[] {
  return [...hv.domains.values()].filter((d) => d.domid !== 0).map((d) => ({ domid: d.domid, type: d.type, vcpus: d.vcpus.length, target: d.target }));
}

/** A core for a host's domains: the host decides which domains exist. */
export function coreForDomains(domains: readonly XsDomainSpec[], opts: XenstoreOptions & { seed?: XsSeed } = {}): XenstoreCore {
  const known = new Set(domains.map((d) => d.domid));
  const core = new XenstoreCore({ domainExists: (d) => d === 0 || known.has(d), ...opts });
  for (const d of domains) createDomainNodes(core, d);
  const c = new XsLocalClient(core);
  try {
    for (const d of domains) if (d.target !== undefined && d.target !== null && known.has(d.target)) c.setTarget(d.domid, d.target);
  } finally {
    c.close();
  }
  if (opts.seed !== undefined) seedTree(core, opts.seed);
  return core;
}

/**
 * Starts a xenstored on `path` for the domains of `hv` (or a domain list): dom0 tools connect to
 * `path`, domain d's clients to `${path}.d<d>`. Stop it with `close()`.
 */
export async function startHostXenstored(host: Hypervisor | readonly XsDomainSpec[], path: string, opts: HostXenstoreOptions = {}): Promise<XenstoredServer> {
  const domains = Array.isArray(host) ? host as readonly XsDomainSpec[] : domainsOf(host as Hypervisor);
  const core = opts.core ?? coreForDomains(domains, opts);
  const server = new XenstoredServer({ ...opts, core });
  if (!Array.isArray(host)) {
    // the fake has no VIRQ_DOM_EXC: look at its domains as xenstored would on that interrupt
    const hv = host as Hypervisor;
    const timer = setInterval(() => { checkDomains(core, (d) => hostDomainInfo(hv, d)); }, opts.checkDomainsMs ?? 200);
    timer.unref();
    server.onClose(() => { clearInterval(timer); });
  }
  await server.listen(path);
  if (opts.domainSockets !== false) for (const d of domains) await server.listen(`${path}.d${d.domid}`, { domid: d.domid });
  return server;
}
