// Code blocks of README.md and docs/*.md, as the doc tests run them.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Block {
  /** README.md or docs/x.md */
  file: string;
  /** 1-based line of the first line of code */
  line: number;
  /** the info string: "ts", "ts norun", "sh", "json", ... */
  info: string;
  code: string;
}

export function docFiles(): string[] {
  return ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
}

export function blocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && lines[j] !== "```") j++;
    out.push({ file, line: start + 1, info: open[1]!.trim(), code: lines.slice(start, j).join("\n") });
    i = j;
  }
  return out;
}

/** `CODE;   // optional prose => VALUE` (the prose may not contain "=>"). */
const CLAIM = /^(\s*)(.*?);?\s*\/\/(?:[^=]|=(?!>))*=> (.*)$/;

/**
 * A ts block as a module: imports of "xendm" point at this checkout's sources, and every line ending in
 * `// => VALUE` checks that the line's value (an expression, or the variable it declares) matches VALUE.
 */
export function instrument(b: Block, check: string): string {
  const src = join(ROOT, "src", "index.ts");
  const body = b.code.split("\n").map((l, k) => {
    const where = JSON.stringify(`${b.file}:${b.line + k}`);
    const fixed = l
      .replace(/from "xendm"/g, `from ${JSON.stringify(src)}`)
      .replace(/from "xendm\/fixtures\/([^"]+)"/g, (_m, p: string) => `from ${JSON.stringify(join(ROOT, "fixtures", p))}`);
    const m = CLAIM.exec(fixed);
    if (m === null) return fixed;
    const [, indent, code, claim] = m;
    const decl = /^(const|let)\s+(\w+)\s*(?::[^=]+)?=\s*(.*)$/.exec(code!);
    if (decl !== null) return `${indent}${code}; __check(${where}, ${decl[2]}, () => (${claim}));`;
    return `${indent}__check(${where}, (${code}), () => (${claim}));`;
  });
  return [`import { check as __check } from ${JSON.stringify(check)};`, ...body].join("\n") + "\n";
}
