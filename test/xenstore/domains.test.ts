// Domains as the host has them: permissions for domains the host lacks are ignored, shutdown and
// destruction fire @releaseDomain (xenstored_domain.c:check_domains), a fake host's domains are watched.
import { describe, expect, it } from "vitest";
import { XS_GET_PERMS, XS_INTRODUCE, XS_READ, XS_SET_PERMS, XS_WATCH, XS_WRITE } from "../../abi/xen/xs_wire.js";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { XenstoreCore } from "../../src/xenstore/core.js";
import { checkDomains, type XsDomainInfo } from "../../src/xenstore/handlers-domain.js";
import { coreForDomains, hostDomainInfo } from "../../src/xenstore/host.js";
import { args, Caller, strings } from "./helpers.js";

describe("domains the host has", () => {
  it("an owner the host lacks is ENOENT; another entry for such a domain is kept but grants nothing", () => {
    const core = new XenstoreCore({ domainExists: (d) => d === 0 || d === 1 });
    const d0 = new Caller(core);
    d0.raw(XS_WRITE, args("/n"));
    expect(d0.err(XS_SET_PERMS, ["/n", "n9"])).toBe("ENOENT");
    expect(d0.call(XS_SET_PERMS, ["/n", "n0", "r9", "r1"])).toBe("OK\0");
    expect(strings(d0.raw(XS_GET_PERMS, args("/n")).payload)).toEqual(["n0", "r9", "r1"]);
    const d1 = new Caller(core, 1);
    expect(d1.call(XS_READ, ["/n"])).toBe("");
  });

  it("permission entries of a domain younger than the node are ignored (a new domain with an old id)", () => {
    let alive = new Set([0, 4]);
    const core = new XenstoreCore({ domainExists: (d) => alive.has(d) });
    const d0 = new Caller(core);
    d0.call(XS_INTRODUCE, ["4", "0", "1"]);
    d0.raw(XS_WRITE, Buffer.from("/old\0secret"));
    d0.call(XS_SET_PERMS, ["/old", "n0", "r4"]);
    expect(new Caller(core, 4).call(XS_READ, ["/old"])).toBe("secret");
    // domain 4 goes away and a new domain 4 comes
    alive = new Set([0]);
    checkDomains(core, (d) => (alive.has(d) ? { shutdown: false, crashed: false, dying: false } : undefined));
    d0.raw(XS_WRITE, args("/meanwhile")); // the generation count moves on (a new domain gets the current one)
    alive = new Set([0, 4]);
    d0.call(XS_INTRODUCE, ["4", "0", "1"]);
    expect(new Caller(core, 4).err(XS_READ, ["/old"])).toBe("EACCES");
  });

  it("check_domains: shutdown fires @releaseDomain once, a vanished or dying domain is released", () => {
    const core = coreForDomains([{ domid: 1 }, { domid: 2 }]);
    const d0 = new Caller(core);
    d0.call(XS_WATCH, ["@releaseDomain", "r"]);
    d0.takeEvents();
    const info = new Map<number, XsDomainInfo>([[1, { shutdown: false, crashed: false, dying: false }], [2, { shutdown: false, crashed: false, dying: false }]]);
    const check = (): void => { checkDomains(core, (d) => info.get(d)); };
    check();
    expect(d0.takeEvents()).toEqual([]);
    info.set(1, { shutdown: true, crashed: false, dying: false });
    check();
    check();
    expect(d0.takeEvents()).toEqual([["@releaseDomain", "r"]]);
    expect(core.isIntroduced(1)).toBe(true);
    info.delete(2);
    check();
    expect(d0.takeEvents()).toEqual([["@releaseDomain", "r"]]);
    expect(core.isIntroduced(2)).toBe(false);
    info.set(1, { shutdown: true, crashed: false, dying: true });
    check();
    expect(core.isIntroduced(1)).toBe(false);
  });

  it("a fake host's destroyed domain is released", () => {
    const hv = new Hypervisor({ domains: [{ domid: 1, type: "hvm" }, { domid: 2, type: "hvm" }] });
    const core = coreForDomains([{ domid: 1 }, { domid: 2 }]);
    expect(hostDomainInfo(hv, 1)).toEqual({ shutdown: false, crashed: false, dying: false });
    hv.destroyDomain(2);
    checkDomains(core, (d) => hostDomainInfo(hv, d));
    expect(core.isIntroduced(2)).toBe(false);
    expect(core.isIntroduced(1)).toBe(true);
  });
});
