// World configuration mistakes are WorldErrors naming the field.
import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { WorldError, type WorldConfig } from "../../src/hypervisor/world.js";

function worldError(w: unknown): WorldError {
  try {
    new Hypervisor(w as WorldConfig);
  } catch (e) {
    expect(e).toBeInstanceOf(WorldError);
    return e as WorldError;
  }
  throw new Error("no error");
}

describe("world errors", () => {
  it("a domain without domid", () => {
    expect(worldError({ domains: [{ domid: 1 }, { vcpus: 1 }] })).toMatchObject({ path: "domains[1].domid", message: "domains[1].domid: missing" });
  });
  it("domid of the wrong kind, a domain that is not an object, domains that is not a list", () => {
    expect(worldError({ domains: [{ domid: null }] }).path).toBe("domains[0].domid");
    expect(worldError({ domains: [{ domid: [1] }] }).path).toBe("domains[0].domid");
    expect(worldError({ domains: [7] }).path).toBe("domains[0]");
    expect(worldError({ domains: { domid: 1 } }).path).toBe("domains");
    expect(worldError(null).path).toBe("(world)");
  });
  it("two guests naming one stub device model", () => {
    const e = worldError({ domains: [{ domid: 1, device_model: 5 }, { domid: 2, device_model: 5 }] });
    expect(e.path).toBe("domains[1].device_model");
    expect(e.message).toMatch(/domain 5 is already the stub device model of domain 1/);
  });
  it("a stub whose target contradicts the guest naming it", () => {
    expect(worldError({ domains: [{ domid: 1, device_model: 5 }, { domid: 5, target: 2 }, { domid: 2 }] }).path).toBe("domains[1].target");
  });
  it("one stub per guest still works, and the stub serves its guest", () => {
    const hv = new Hypervisor({ domains: [{ domid: 1, device_model: 5 }, { domid: 2, device_model: 6 }] });
    expect(hv.domain(5)!.target).toBe(1);
    expect(hv.domain(6)!.target).toBe(2);
  });
});
