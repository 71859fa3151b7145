// Node permissions: their string form (xs_lib.c) and what a connection may do (xenstored_core.c).
import {
  XS_PERM_IGNORE, XS_PERM_NONE, XS_PERM_OWNER, XS_PERM_READ, XS_PERM_WRITE,
} from "../../abi/xen/xs_wire.js";
import { xsError } from "./errors.js";

/** struct xs_permissions: perms[0] is the owner and the default for everyone else. */
export interface XsPerm {
  id: number;
  perms: number;
}

const LETTER: Readonly<Record<string, number>> = { r: XS_PERM_READ, w: XS_PERM_WRITE, b: XS_PERM_READ | XS_PERM_WRITE, n: XS_PERM_NONE };
const BY_BITS: readonly string[] = ["n", "r", "w", "b"];

/** "r1", "w0", "b5", "n0": mirrors xs_lib.c:xs_strings_to_perms (strtol base 0, no trailing junk). */
export function parsePerm(s: string): XsPerm {
  const bits = LETTER[s[0] ?? ""];
  const num = s.slice(1);
  if (bits === undefined || !/^[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(num)) throw xsError("EINVAL", `bad permission '${s}'`);
  const neg = num.startsWith("-");
  const digits = num.replace(/^[+-]/, "");
  const v = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : /^0[0-7]/.test(digits) ? parseInt(digits, 8) : Number(digits);
  // struct xs_permissions.id is an int: strtol's long is truncated to it
  return { id: (neg ? -v : v) | 0, perms: bits };
}

/** mirrors xs_lib.c:xs_perm_to_string (the IGNORE bit is not shown) */
export function formatPerm(p: XsPerm): string {
  return `${BY_BITS[p.perms & (XS_PERM_READ | XS_PERM_WRITE)]!}${p.id}`;
}

export function formatPerms(perms: readonly XsPerm[]): string {
  return perms.map(formatPerm).join(",");
}

/** The rights a caller has; `target` is the domain a stub device model serves (SET_TARGET). */
export interface PermSubject {
  id: number;
  privileged: boolean;
  target: number | undefined;
}

/**
 * mirrors xenstored_core.c:perm_for_conn: the privileged, the owner and the owner's device model get all;
 * otherwise the first entry naming the caller (or its target), else the owner entry's default.
 * `ignored(i)` says whether entry i was dropped (xenstored_domain.c:domain_adjust_node_perms).
 */
export function permForConn(who: PermSubject, perms: readonly XsPerm[], ignored?: (p: XsPerm) => boolean): number {
  const mask = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
  const owner = perms[0]!;
  if (who.privileged || owner.id === who.id || (who.target !== undefined && owner.id === who.target)) return mask;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if ((p.perms & XS_PERM_IGNORE) !== 0 || (ignored !== undefined && ignored(p))) continue;
    if (p.id === who.id || (who.target !== undefined && p.id === who.target)) return p.perms & mask;
  }
  return owner.perms & mask;
}
