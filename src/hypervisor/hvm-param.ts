// HVMOP_get_param for the parameters the ioreq model keeps: 5 (IOREQ_PFN), 6 (BUFIOREQ_PFN),
// 13 (DM_DOMAIN), 26 (BUFIOREQ_EVTCHN), 32 (IOREQ_SERVER_PFN); others read as 0.
// On 4.9, reading 5, 6 or 26 of a domain under construction first makes the default ioreq server.
// mirrors arch/x86/hvm/hvm.c:hvmop_get_param + hvm_allow_get_param
import { EINVAL, EPERM, ESRCH } from "./explain.js";
import type { Hypervisor } from "./hypervisor.js";
import {
  createDefaultServer49, HVM_PARAM_BUFIOREQ_EVTCHN, HVM_PARAM_BUFIOREQ_PFN, HVM_PARAM_IOREQ_PFN,
} from "./ioreq-server.js";
import type { Domain } from "./domain.js";
import { storedHvmParam } from "./hvm-param-set.js";

export const HVM_PARAM_DM_DOMAIN = 13;
export const HVM_PARAM_IOREQ_SERVER_PFN = 32;
/** HVM_NR_PARAMS in 4.9.0 and 4.17.7's public/hvm/params.h. */
const HVM_NR_PARAMS = { "4.9": 38, "4.17": 39, master: 39 } as const;

/** Parameters a guest may read of itself (hvm_allow_get_param's first list). */
const GUEST_READABLE = new Set([0, 15, 37, 19, 34, 1, 2, 17, 18, 35, 36]);

export type HvmParamResult = { rc: 0; value: bigint } | { rc: number; value: null };

function modelledValue(d: Domain, index: number): bigint {
  const pool = d.ioreq.gfnPool;
  switch (index) {
    case HVM_PARAM_IOREQ_PFN: return BigInt(pool.ioreqPfn);
    case HVM_PARAM_BUFIOREQ_PFN: return BigInt(pool.bufioreqPfn);
    case HVM_PARAM_DM_DOMAIN: return BigInt(d.dmDomain);
    case HVM_PARAM_BUFIOREQ_EVTCHN: return BigInt(d.ioreq.defaultServer?.bufioreqEvtchn ?? 0);
    case HVM_PARAM_IOREQ_SERVER_PFN: return BigInt(pool.base);
    default: return storedHvmParam(d, index);
  }
}

/** A parameter's current value as hvm_get_param reads it (no permission checks). */
export function currentHvmParam(d: Domain, index: number): bigint {
  return modelledValue(d, index);
}

/**
 * HVMOP_get_param(domid, index) issued by domain `caller`. Parameters the model does not keep read as 0.
 * -EINVAL index >= HVM_NR_PARAMS or not HVM, -ESRCH no domain, -EPERM not the domain itself, its device
 * model or the control domain (or the domain reading a parameter guests may not read), or the default
 * server's mapping / event-channel error (4.9).
 */
export function hvmGetParam(hv: Hypervisor, caller: number, domid: number, index: number): HvmParamResult {
  const fail = (rc: number, rule: string, mirrors: string): { rc: number; value: null } => {
    hv.recordRefusal(rc, rule, mirrors);
    return { rc, value: null };
  };
  const fn = "hvm.c:hvmop_get_param";
  if (!Number.isInteger(index) || index < 0 || index >= HVM_NR_PARAMS[hv.persona.name]) {
    return fail(EINVAL, `index ${index} >= HVM_NR_PARAMS`, fn);
  }
  const d = hv.domain(domid);
  if (d === undefined) return fail(ESRCH, `no domain ${domid}`, "domain.c:rcu_lock_domain_by_any_id");
  if (!d.isHvm) return fail(EINVAL, `domain ${domid} is not an HVM domain`, fn);
  const c = hv.domain(caller);
  if (caller !== domid && (c === undefined || !(c.control || c.target === domid))) {
    return fail(EPERM, `caller ${caller} is neither domain ${domid}, its device model nor the control domain`, "xsm/dummy.h:xsm_hvm_param");
  }
  if (caller === domid && !GUEST_READABLE.has(index)) {
    return fail(EPERM, `a guest may not read its own parameter ${index}`, "hvm.c:hvm_allow_get_param");
  }
  const legacy = index === HVM_PARAM_IOREQ_PFN || index === HVM_PARAM_BUFIOREQ_PFN || index === HVM_PARAM_BUFIOREQ_EVTCHN;
  if (legacy && hv.persona.name === "4.9" && !d.creationFinished && hv.persona.arch === "x86") {
    const ctx = {
      caller, d, persona: hv.persona,
      refuse: (rc: number, rule: string, mirrors: string): number => {
        hv.recordRefusal(rc, rule, mirrors);
        return rc;
      },
    };
    const rc = createDefaultServer49(ctx, d.dmDomain);
    if (rc !== 0 && rc !== -17) return { rc, value: null };
  }
  return { rc: 0, value: modelledValue(d, index) };
}
