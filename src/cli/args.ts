// Helpers shared by the commands: the --arch option, hex in and out. The parser itself is ./command.ts.

import { ARCHES, isArch, type Arch } from "../../abi/profiles.js";
import { UsageError, type StringOption } from "./command.js";

export { UsageError };

/** The `--arch` option of every codec command. */
export const ARCH_OPTION = { type: "string", value: "ARCH", choices: ARCHES, default: "x86_64", help: "the ABI" } as const satisfies StringOption;

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

/**
 * `valued` lists the options that take a value.
 * Loose (kept for older command modules): prefer defineCommand (./command.ts), which refuses unknown options and surplus arguments.
 */
export function parseArgs(args: readonly string[], valued: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (eq >= 0) flags.set(key, a.slice(eq + 1));
      else if (valued.includes(key)) {
        const v = args[i + 1];
        if (v === undefined) throw new UsageError(`--${key} needs a value`);
        flags.set(key, v);
        i++;
      } else flags.set(key, true);
    } else positional.push(a);
  }
  return { positional, flags };
}

export function archOf(p: ParsedArgs): Arch {
  const a = p.flags.get("arch");
  if (a === undefined) return "x86_64";
  if (typeof a !== "string" || !isArch(a)) throw new UsageError(`--arch must be one of x86_64, i386, arm64, arm32`);
  return a;
}

/** Parses hex with optional spaces, colons or a 0x prefix. */
export function parseHex(s: string): Uint8Array {
  const clean = s.replace(/^0x/i, "").replace(/[\s:_]/g, "");
  if (!/^[0-9a-fA-F]*$/.test(clean)) {
    const bad = clean.search(/[^0-9a-fA-F]/);
    throw new UsageError(`not hex: unexpected ${JSON.stringify(clean[bad])} at character ${bad}`);
  }
  if (clean.length % 2 !== 0) throw new UsageError(`hex has an odd number of digits (${clean.length})`);
  return Uint8Array.from(Buffer.from(clean, "hex"));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
}

export function wantsHelp(args: readonly string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

/**
 * Older shape, kept for command modules not yet declared with defineCommand (./command.ts).
 * The shape of a simple command: `--help` prints the usage; otherwise the body runs on parsed arguments
 * (`valued` lists the options that take a value) and returns the exit code.
 */
export function simpleCommand(summary: string, valued: readonly string[], body: (p: ParsedArgs) => number): (args: string[]) => Promise<number> {
  return (args) => {
    if (wantsHelp(args)) {
      process.stdout.write(`usage: xendm ${summary}\n`);
      return Promise.resolve(0);
    }
    return Promise.resolve(body(parseArgs(args, valued)));
  };
}
