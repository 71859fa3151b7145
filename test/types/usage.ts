// Typed uses of the codec, compiled by test/types/typed-values.test.ts: every line marked
// `@ts-expect-error` must be a compile error (the test also compiles this file with the markers removed
// and counts one error per marked line).
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/restrict-plus-operands -- the mistyped uses are deliberate */
import { decode, encode, encodeInto, type DecodedTypes, type ioreq } from "../../src/index.js";

const XEN_DMOP_nr_vcpus = 20;

const b = new Uint8Array(32);

// decoded values are typed field by field
const op = decode("xen_dm_op", b);
export const vcpus: number | undefined = op.u.nr_vcpus?.vcpus;
if (op.op === XEN_DMOP_nr_vcpus) {
  const n: number = op.u.nr_vcpus.vcpus;
  console.log(n);
}
const r: ioreq = decode("ioreq_t", b);
export const addr: bigint = r.addr + 1n;
export const state: number = decode("ioreq", b).state;
export const size: number | bigint = decode("xen_dm_op_buf", new Uint8Array(16)).size;
export const same: DecodedTypes["ioreq_t"] = r;

// encode's input: every field optional, symbolic names, numbers, bigints, strings
encode("ioreq_t", { addr: 0xfee00000n, size: 4, dir: 1, type: "IOREQ_TYPE_COPY", state: "STATE_IOREQ_READY" });
encode("xen_dm_op", { op: "XEN_DMOP_set_mem_type", u: { set_mem_type: { nr: 1, mem_type: "HVMMEM_ioreq_server", first_pfn: "0x3000" } } });
encodeInto("xen_dm_op", { op: 20 }, b, 0);
// a name known only at run time takes the untyped overload
const dynamic: string = "ioreq_t";
encode(dynamic, { anything: 1 });

// mistyped uses
// @ts-expect-error -- no field "adr" in ioreq
encode("ioreq_t", { adr: 1n });
// @ts-expect-error -- no member "nr_vcpu" in xen_dm_op.u
encode("xen_dm_op", { op: 20, u: { nr_vcpu: {} } });
// @ts-expect-error -- first_pfn is an integer, not an object
encode("xen_dm_op", { op: 12, u: { set_mem_type: { first_pfn: { x: 1 } } } });
// @ts-expect-error -- ioreq.addr is a bigint: adding a number does not type-check
export const bad1 = decode("ioreq_t", b).addr + 1;
// @ts-expect-error -- u.nr_vcpus may be absent until op is narrowed
export const bad2: number = decode("xen_dm_op", b).u.nr_vcpus.vcpus;
// @ts-expect-error -- ioreq has no field "vcpus"
export const bad3 = decode("ioreq_t", b).vcpus;
// @ts-expect-error -- pad of create_ioreq_server is an array
encode("xen_dm_op_create_ioreq_server", { pad: 0 });
