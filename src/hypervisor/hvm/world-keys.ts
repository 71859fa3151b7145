// The world keys of a domain's platform devices: `emulation_flags` (a number or a list of flag names;
// default libxl's for HVM, every flag but vpci), `acpi_ioports_location` (0 as at creation, 1 as
// hvmloader leaves it), `hpet_enabled` (HVM_PARAM_HPET_ENABLED, default true) and `rtc_timeoffset`
// (seconds, default 0).
import { XEN_X86_EMU_ALL, XEN_X86_EMU_NAMES } from "../../../abi/xen/hvm_platform.js";
import { WorldError, toInt, type IntLike } from "../world.js";
import { HvmPlatform, LIBXL_HVM_EMULATION_FLAGS } from "./platform.js";
import type { GuestClock } from "./clock.js";

export interface PlatformKeys {
  emulation_flags?: IntLike | string[];
  acpi_ioports_location?: IntLike;
  hpet_enabled?: boolean;
  rtc_timeoffset?: number;
}

export const PLATFORM_KEYS = ["emulation_flags", "acpi_ioports_location", "hpet_enabled", "rtc_timeoffset"] as const;

export function emulationFlags(v: PlatformKeys["emulation_flags"], path: string): number {
  if (v === undefined) return LIBXL_HVM_EMULATION_FLAGS;
  if (Array.isArray(v)) {
    let flags = 0;
    v.forEach((name, i) => {
      const f = typeof name === "string" ? XEN_X86_EMU_NAMES[name] : undefined;
      if (f === undefined) {
        throw new WorldError(`${path}[${i}]`, `unknown emulation flag ${JSON.stringify(name)} (one of ${Object.keys(XEN_X86_EMU_NAMES).join(", ")})`);
      }
      flags |= f;
    });
    return flags;
  }
  return toInt(v, path, 0, XEN_X86_EMU_ALL);
}

/** The platform of an x86 HVM domain from its world keys. */
export function platformFromConfig(c: PlatformKeys, path: string, vcpus: number, clock?: GuestClock): HvmPlatform {
  const loc = toInt(c.acpi_ioports_location ?? 0, `${path}.acpi_ioports_location`, 0, 1) as 0 | 1;
  if (c.hpet_enabled !== undefined && typeof c.hpet_enabled !== "boolean") throw new WorldError(`${path}.hpet_enabled`, "must be true or false");
  const off = c.rtc_timeoffset ?? 0;
  if (typeof off !== "number" || !Number.isSafeInteger(off)) throw new WorldError(`${path}.rtc_timeoffset`, "must be an integer number of seconds");
  const opts: ConstructorParameters<typeof HvmPlatform>[0] = {
    emulationFlags: emulationFlags(c.emulation_flags, `${path}.emulation_flags`),
    vcpus,
    acpiIoportsLocation: loc,
    hpetEnabled: c.hpet_enabled ?? true,
    rtcTimeOffset: off,
  };
  if (clock !== undefined) opts.clock = clock;
  return new HvmPlatform(opts);
}
