// Differences between the codec (src/codec) and the C contract of docs/fixtures.md that were found by
// the probe tests and reported to the codec's owner. The tests fail on any difference not listed here,
// and print (without failing) listed entries that no longer occur, so that they can be removed.
//
// Keys: "<arch>/<file>::<case name>" for vectors, "layout <arch>::<problem text>" for types and
// "constants <arch>::<problem text>" for constants.

export const KNOWN_CODEC_DISCREPANCIES: ReadonlySet<string> = new Set([
  // nonzero-pad in an array pad (uint8_t pad[3], uint16_t pad[2]): the contract's offset is the pad
  // member's offset; the codec reports the offset of the first non-zero element.
  "x86_64/xen_dm_op.json::nonzero-pad/xen_dm_op.u.create_ioreq_server.pad/last-byte-1",
  "x86_64/xen_dm_op.json::nonzero-pad/xen_dm_op.u.set_irq_level.pad/last-byte-1",
  "x86_64/xen_dm_op_create_ioreq_server.json::nonzero-pad/xen_dm_op_create_ioreq_server.pad/last-byte-1",
  "x86_64/xen_dm_op_set_irq_level.json::nonzero-pad/xen_dm_op_set_irq_level.pad/last-byte-1",
  "x86_64/xen_hvm_get_mem_type.json::nonzero-pad/xen_hvm_get_mem_type.pad/last-byte-1",
  // op 0 selects no member (Xen 4.17 dm.c answers it with -EOPNOTSUPP); the codec decodes it with u = {}.
  "x86_64/xen_dm_op.json::bad-op/0",
  // Constants: the codec lacks DOMID_MASK and XENMEM_resource_ioreq_server_frame_ioreq_0 and has
  // SHUTDOWN_MAX, which the fixture leaves out (SHUTDOWN_poweroff..soft_reset only).
  ...["x86_64", "i386", "arm64", "arm32"].flatMap((a) => [
    `constants ${a}::DOMID_MASK: missing in codec (C 32767)`,
    `constants ${a}::XENMEM_resource_ioreq_server_frame_ioreq_0: missing in codec (C 1)`,
    `constants ${a}::SHUTDOWN_MAX: in codec, not in the fixture`,
  ]),
  // On Arm, XEN_GUEST_HANDLE(void) is the typedef __guest_handle_64_void; the codec names it
  // __guest_handle_void (the x86 name).
  ...["arm64", "arm32"].flatMap((a) => [
    `layout ${a}::__guest_handle_64_void: missing in codec`,
    `layout ${a}::__guest_handle_void: in codec, not in the C headers`,
  ]),
]);

/** Splits keyed problems into unexpected ones (returned) and stale known entries (printed). */
export function unexpected(problems: { key: string; text: string }[], scope: string): string[] {
  const seen = new Set(problems.map((p) => p.key));
  for (const k of KNOWN_CODEC_DISCREPANCIES) {
    if (k.startsWith(scope) && !seen.has(k)) console.warn(`known codec discrepancy no longer occurs, remove it: ${k}`);
  }
  const rest = problems.filter((p) => !KNOWN_CODEC_DISCREPANCIES.has(p.key)).map((p) => p.text);
  const known = problems.length - rest.length;
  if (known > 0) console.warn(`${scope}: ${known} known codec discrepancy(ies), see test/abi/probe-known-discrepancies.ts`);
  return rest;
}
