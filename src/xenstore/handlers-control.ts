// CONTROL (xenstored_control.c): the commands that mean something without a daemon to update or log.
import { atoi, countStrings, getStrings, str0 } from "./args.js";
import type { XsRequest } from "./core.js";
import { xsError } from "./errors.js";
import { OK } from "./handlers-node.js";
import { QUOTA_NAMES, SOFT_QUOTA_NAMES, type XsQuota } from "./quota.js";

type ControlFn = (r: XsRequest, args: string[]) => Buffer;

function quotaShow(r: XsRequest, names: typeof QUOTA_NAMES): Buffer {
  let s = "Quota settings:\n";
  for (const [name, key, descr] of names) s += `${name.padEnd(17)}: ${String(r.core.quota[key]).padStart(8)} ${descr}\n`;
  return str0(s);
}

function quotaSet(r: XsRequest, args: string[], names: typeof QUOTA_NAMES): Buffer {
  if (args.length !== 2) throw xsError("EINVAL", "quota set <name> <val>");
  const val = atoi(args[1]!);
  if (val < 1) throw xsError("EINVAL", "quota below 1");
  const q = names.find(([n]) => n === args[0]);
  if (q === undefined) throw xsError("EINVAL", `no quota ${args[0]!}`);
  (r.core.quota as Record<keyof XsQuota, number>)[q[1]] = val;
  return OK;
}

/** mirrors xenstored_domain.c:domain_get_quota */
function quotaOf(r: XsRequest, domid: number): Buffer {
  const d = r.core.domains.find(domid);
  if (d === undefined) throw xsError("ENOENT", `no domain ${domid}`);
  let ta = 0;
  for (const c of r.core.connections) if (c.domain === d) ta += c.transactions.size;
  const ent = (n: string, v: number): string => `${n.padEnd(16)}: ${String(v).padStart(8)}\n`;
  return str0(`Domain ${domid}:\n${ent("nodes", d.nbentry)}${ent("watches", d.nbwatch)}${ent("transactions", ta)}${ent("outstanding", 0)}${ent("memory", 0)}`);
}

const COMMANDS: readonly (readonly [string, ControlFn, string])[] = [
  ["check", (_r, a) => { if (a.length !== 0) throw xsError("EINVAL", "check takes no argument"); return OK; }, ""],
  ["log", (_r, a) => { if (a.length !== 1 || (a[0] !== "on" && a[0] !== "off")) throw xsError("EINVAL", "log on|off"); return OK; }, "on|off"],
  ["print", (_r, a) => { if (a.length !== 1) throw xsError("EINVAL", "print <string>"); return OK; }, "<string>"],
  ["quota", (r, a) => (a.length === 0 ? quotaShow(r, QUOTA_NAMES) : a[0] === "set" ? quotaSet(r, a.slice(1), QUOTA_NAMES)
    : a.length === 1 ? quotaOf(r, atoi(a[0]!) >>> 0) : (() => { throw xsError("EINVAL", "quota <domid>"); })()), "[set <name> <val>|<domid>]"],
  ["quota-soft", (r, a) => (a.length === 0 ? quotaShow(r, SOFT_QUOTA_NAMES) : a[0] === "set" ? quotaSet(r, a.slice(1), SOFT_QUOTA_NAMES)
    : (() => { throw xsError("EINVAL", "quota-soft [set <name> <val>]"); })()), "[set <name> <val>]"],
  ["help", (_r, a) => {
    if (a.length !== 0) throw xsError("EINVAL", "help takes no argument");
    return str0(COMMANDS.map(([c, , p]) => `${c}\t${p}\n`).join(""));
  }, ""],
];

/** mirrors xenstored_control.c:do_control */
export function doControl(r: XsRequest): Buffer {
  if (r.payload.indexOf(0) < 0) throw xsError("EINVAL", "no command");
  const v = getStrings(r.payload, countStrings(r.payload));
  const cmd = COMMANDS.find(([c]) => c === v[0]);
  if (cmd === undefined) throw xsError("EINVAL", `unknown control command ${v[0]!}`);
  return cmd[1](r, v.slice(1));
}
