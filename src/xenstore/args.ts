// Splitting a request payload into its NUL-terminated arguments (xenstored_core.c:get_string/get_strings/
// onearg, xs_lib.c:xs_count_strings). Strings are latin1, so every byte survives.

/** mirrors xenstored_core.c:onearg: exactly one NUL, at the end; undefined otherwise */
export function onearg(p: Buffer): string | undefined {
  if (p.length === 0 || p.indexOf(0) !== p.length - 1) return undefined;
  return p.toString("latin1", 0, p.length - 1);
}

/** mirrors xenstored_core.c:get_strings: every NUL-terminated string (bytes after the last NUL are ignored) */
export function getStrings(p: Buffer, max = Infinity): string[] {
  const out: string[] = [];
  let off = 0;
  while (off < p.length && out.length < max) {
    const nul = p.indexOf(0, off);
    if (nul < 0) break;
    out.push(p.toString("latin1", off, nul));
    off = nul + 1;
  }
  return out;
}

/** mirrors xs_lib.c:xs_count_strings */
export function countStrings(p: Buffer): number {
  let n = 0;
  for (let i = p.indexOf(0); i >= 0; i = p.indexOf(0, i + 1)) n++;
  return n;
}

/** C atoi: optional blanks and sign, then digits, stopping at the first other byte; 0 when none */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(s)!;
  const v = Number(m[2] === "" ? "0" : m[2]!.slice(-12)) ;
  return (m[1] === "-" ? -v : v) | 0;
}

export const str0 = (s: string): Buffer => {
  const b = Buffer.allocUnsafe(s.length + 1);
  b.write(s, 0, "latin1");
  b[s.length] = 0;
  return b;
};
