// HVMOP_set_param, and the values it stores for parameters the ioreq model does not keep.
// mirrors arch/x86/hvm/hvm.c:hvmop_set_param + hvm_allow_set_param + hvm_set_param
import { DOMID_SELF } from "../../abi/xen/xen.js";
import { HVM_PARAM_ACPI_S_STATE } from "../../abi/xen/hvm_op.js";
import type { Domain } from "./domain.js";
import { EINVAL, EPERM, ESRCH } from "./explain.js";
import type { Hypervisor } from "./hypervisor.js";

const EEXIST = -17;
const HVM_NR_PARAMS = 39;
/** Parameters a guest may set on itself. */
const GUEST_SETTABLE = new Set([0, 15, 37, 19, 34, 2, 18, 36]);
/** Deprecated: -EINVAL for everyone. */
const DEPRECATED = new Set([4, 13, 20, 21, 22, 23, 24, 25, 26, 30]);
/** Set once: a different non-zero value is -EEXIST. */
const SET_ONCE = new Set([9, 5, 6, 32, 33, 35, 38]);
/** Parameters whose meaning the fake models elsewhere: stored values would contradict it. */
const MODELLED = new Set([5, 6, 32]);

interface Stored { params: Map<number, bigint>; s3: boolean }
const store = new WeakMap<Domain, Stored>();

function stored(d: Domain): Stored {
  let s = store.get(d);
  if (s === undefined) {
    s = { params: new Map(), s3: false };
    store.set(d, s);
  }
  return s;
}

/** The value HVMOP_get_param reads for a parameter the ioreq model does not keep (0 if never set). */
export function storedHvmParam(d: Domain, index: number): bigint {
  const s = store.get(d);
  if (index === HVM_PARAM_ACPI_S_STATE) return s?.s3 === true ? 3n : 0n; // hvm_get_param: is_s3_suspended
  return s?.params.get(index) ?? 0n;
}

/** HVMOP_set_param(domid, index, value) issued by `caller`: 0 or a negative errno. */
export function hvmSetParam(hv: Hypervisor, caller: number, domid: number, index: number, value: bigint, current: (d: Domain, i: number) => bigint): number {
  const fail = (rc: number, rule: string, mirrors: string): number => {
    hv.recordRefusal(rc, rule, mirrors);
    return rc;
  };
  if (index >= HVM_NR_PARAMS) return fail(EINVAL, `index ${index} >= HVM_NR_PARAMS`, "hvm.c:hvmop_set_param");
  const target = domid === DOMID_SELF ? caller : domid;
  const d = hv.domain(target);
  if (d === undefined) return fail(ESRCH, `no domain ${domid}`, "domain.c:rcu_lock_domain_by_any_id");
  if (!d.isHvm) return fail(EINVAL, `domain ${domid} is not an HVM domain`, "hvm.c:hvmop_set_param");
  const c = hv.domain(caller);
  if (caller !== target && (c === undefined || !(c.control || c.target === target))) {
    return fail(EPERM, `caller ${caller} is neither domain ${domid}, its device model nor the control domain`, "xsm/dummy.h:xsm_hvm_param");
  }
  if (DEPRECATED.has(index)) return fail(EINVAL, `parameter ${index} is deprecated`, "hvm.c:hvm_allow_set_param");
  if (!GUEST_SETTABLE.has(index) && caller === target) return fail(EPERM, `a guest may not set its own parameter ${index}`, "hvm.c:hvm_allow_set_param");
  const old = current(d, index);
  if (SET_ONCE.has(index) && old !== 0n && value !== old) return fail(EEXIST, `parameter ${index} is already ${old}`, "hvm.c:hvm_allow_set_param");
  const s = stored(d);
  if (index === HVM_PARAM_ACPI_S_STATE) {
    // hvm_s3_suspend / hvm_s3_resume
    if (value === 3n) s.s3 = true;
    else if (value === 0n) s.s3 = false;
    else return fail(EINVAL, `ACPI_S_STATE ${value} is neither 0 nor 3`, "hvm.c:hvm_set_param");
    return 0;
  }
  if (MODELLED.has(index)) {
    if (value !== old) return fail(EINVAL, `the fake does not move parameter ${index} of domain ${domid}`, "hvm.c:hvm_set_param");
    return 0;
  }
  s.params.set(index, value);
  return 0;
}
