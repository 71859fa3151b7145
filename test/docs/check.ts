// The comparison behind `// => VALUE` in the docs: objects match partially (the keys the doc names),
// everything else exactly; a mismatch names the doc line.
import { expect } from "vitest";

export function check(where: string, actual: unknown, claim: () => unknown): void {
  const want = claim();
  const msg = `${where}: the doc claims ${JSON.stringify(want, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? "undefined"}`;
  if (typeof want === "object" && want !== null && !Array.isArray(want) && !(want instanceof Uint8Array)) expect(actual, msg).toMatchObject(want);
  else expect(actual, msg).toEqual(want);
}
