// A fresh fake host behind a privcmd device, from a scenario file's world part.
import { Hypervisor } from "../hypervisor/hypervisor.js";
import type { WorldConfig } from "../hypervisor/world.js";
import { PrivcmdDevice, type PrivcmdOptions } from "../privcmd/index.js";

export interface FakeHost {
  hv: Hypervisor;
  device: PrivcmdDevice;
}

export function createFakeHost(world: WorldConfig = {}, privcmd: PrivcmdOptions = {}): FakeHost {
  const hv = new Hypervisor(world);
  const abi = world.abi;
  const device = new PrivcmdDevice(hv, abi !== undefined ? { abi, ...privcmd } : privcmd);
  return { hv, device };
}

/** The world of `xendm serve --domain N ...`: HVM domains with the scenario defaults. */
export function worldForDomains(domids: readonly number[]): WorldConfig {
  return { format: 1, domains: domids.map((domid) => ({ domid, type: "hvm" as const })) };
}
