// CPU time of a process from /proc (Linux): what the idle-CPU checks of the fast path measure.
import { readFileSync } from "node:fs";

/** utime + stime of `pid` so far, in seconds (USER_HZ is 100 on Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The share of one CPU `pid` used over the next `ms` milliseconds (0.01 is 1%). */
export async function cpuShare(pid: number, ms: number): Promise<number> {
  const a = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuSeconds(pid);
  return (b - a) / ((performance.now() - t0) / 1000);
}
