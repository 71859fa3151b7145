// One strict parser for every command. A command is a declaration (summary, positionals, options) plus a
// body; defineCommand turns it into `run(args) -> exit code` with --help, strict option checks and one-line
// usage errors on stderr. Built on node:util parseArgs (tokens), with the checks strict mode makes, worded
// for people: unknown options (with a suggestion), missing values, values for flags, surplus arguments.

import { parseArgs } from "node:util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

interface OptionBase {
  /** One line for `xendm help <command>`. */
  readonly help: string;
  /** A single-letter alias (`-v`). */
  readonly short?: string;
}

export interface BooleanOption extends OptionBase {
  readonly type: "boolean";
}

export interface StringOption extends OptionBase {
  readonly type: "string";
  /** The value's placeholder in the help (`--socket PATH`). */
  readonly value?: string;
  /** The accepted values; anything else is refused with the list. */
  readonly choices?: readonly string[];
  readonly default?: string;
  /** Repeatable: the values are collected in order. */
  readonly multiple?: boolean;
}

export type OptionSpec = BooleanOption | StringOption;
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type StringValue<O extends StringOption> = O extends { readonly choices: readonly (infer C)[] } ? C : string;

/** The parsed option values, typed from the declaration. */
export type OptionValues<O extends OptionSpecs> = {
  -readonly [K in keyof O]: O[K] extends BooleanOption
    ? boolean
    : O[K] extends StringOption
      ? O[K] extends { readonly multiple: true }
        ? StringValue<O[K]>[]
        : O[K] extends { readonly default: string }
          ? StringValue<O[K]>
          : StringValue<O[K]> | undefined
      : never;
};

export interface PositionalSpec {
  /** Shown in the usage line (`<type>`, `[FILE...]`). */
  readonly name: string;
  readonly optional?: boolean;
  /** Takes every remaining argument (at least one unless optional). */
  readonly rest?: boolean;
}

export interface CommandSpec<O extends OptionSpecs> {
  readonly name: string;
  /** One line, shown by `xendm help`. */
  readonly summary: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly options: O;
  /** More text for `xendm help <command>`: what the exit codes mean, examples. */
  readonly details?: string;
  run(input: { values: OptionValues<O>; positionals: string[] }): number | Promise<number>;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** The full help text. */
  help(): string;
  /** Parses `args` strictly and runs the command; usage errors print one line to stderr and give 2. */
  readonly run: (args: readonly string[]) => Promise<number>;
}

const HELP: BooleanOption = { type: "boolean", short: "h", help: "show this help" };

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `names` to `word`, when it is close enough to be a likely misspelling. */
export function suggest(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = distance(word, n);
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function flagName(name: string, spec: OptionSpec): string {
  const short = spec.short !== undefined ? `-${spec.short}, ` : "    ";
  const value = spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : "";
  return `${short}--${name}${value}`;
}

function optionHelp(spec: OptionSpec): string {
  if (spec.type !== "string") return spec.help;
  const parts = [spec.help];
  if (spec.choices !== undefined) parts.push(`one of ${spec.choices.join(", ")}`);
  if (spec.default !== undefined) parts.push(`default ${spec.default}`);
  if (spec.multiple === true) parts.push("repeatable");
  return parts.join("; ");
}

function synopsis(spec: { name: string; positionals?: readonly PositionalSpec[]; options: OptionSpecs }): string {
  const pos = (spec.positionals ?? []).map((p) => {
    const n = p.rest === true ? `${p.name}...` : p.name;
    return p.optional === true ? `[${n}]` : n;
  });
  return ["usage: xendm", spec.name, ...(Object.keys(spec.options).length > 0 ? ["[options]"] : []), ...pos].join(" ");
}

function helpText(spec: CommandSpec<OptionSpecs>): string {
  const all: [string, OptionSpec][] = [...Object.entries(spec.options), ["help", HELP]];
  const left = all.map(([n, s]) => flagName(n, s));
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = [synopsis(spec), `  ${spec.summary}`, "", "options:"];
  all.forEach(([, s], i) => lines.push(`  ${left[i]!.padEnd(width)}${optionHelp(s)}`));
  if (spec.details !== undefined) lines.push("", spec.details.trimEnd());
  return lines.join("\n") + "\n";
}

function valueOf(spec: StringOption, name: string, raw: string): string {
  if (spec.choices !== undefined && !spec.choices.includes(raw)) {
    throw new UsageError(`--${name} must be one of ${spec.choices.join(", ")} (got ${JSON.stringify(raw)})`);
  }
  return raw;
}

function needsValue(name: string, spec: StringOption): UsageError {
  const what = spec.choices !== undefined ? `one of ${spec.choices.join(", ")}` : spec.value ?? "a value";
  return new UsageError(`--${name} needs a value: ${what}`);
}

/** Strict parsing of `args` against `options`: every refusal is a UsageError with one line. */
export function parseCommandLine<O extends OptionSpecs>(
  options: O,
  positionalSpecs: readonly PositionalSpec[],
  args: readonly string[],
): { values: OptionValues<O>; positionals: string[]; help: boolean } {
  const all: Record<string, OptionSpec> = { ...options, help: HELP };
  const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [n, s] of Object.entries(all)) {
    config[n] = { type: s.type, ...(s.short !== undefined ? { short: s.short } : {}), ...(s.type === "string" && s.multiple === true ? { multiple: true } : {}) };
  }
  const { tokens } = parseArgs({ args: [...args], options: config, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean | string[] | undefined> = Object.create(null) as Record<string, never>;
  const positionals: string[] = [];
  let help = false;
  for (const t of tokens) {
    if (t.kind === "positional") {
      positionals.push(t.value);
      continue;
    }
    if (t.kind === "option-terminator") continue;
    const spec = Object.hasOwn(all, t.name) ? all[t.name] : undefined;
    if (spec === undefined) {
      const near = t.rawName.startsWith("--") ? suggest(t.name, Object.keys(all)) : undefined;
      throw new UsageError(`unknown option ${t.rawName}${near !== undefined ? ` (did you mean --${near}?)` : ""}`);
    }
    if (spec.type === "boolean") {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value (got ${JSON.stringify(t.value)})`);
      if (t.name === "help") help = true;
      else values[t.name] = true;
      continue;
    }
    // parseArgs takes the next argument as the value even when it looks like an option: refuse that, as
    // its strict mode does, so `--arch --json` is a missing value rather than an architecture "--json".
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith("-") && t.value !== "-")) throw needsValue(t.name, spec);
    const v = valueOf(spec, t.name, t.value);
    if (spec.multiple === true) {
      const list = (values[t.name] as string[] | undefined) ?? [];
      list.push(v);
      values[t.name] = list;
    } else if (values[t.name] !== undefined) throw new UsageError(`--${t.name} given twice`);
    else values[t.name] = v;
  }
  for (const [n, s] of Object.entries(options)) {
    if (values[n] !== undefined) continue;
    if (s.type === "boolean") values[n] = false;
    else if (s.multiple === true) values[n] = [];
    else if (s.default !== undefined) values[n] = s.default;
  }
  if (!help) checkPositionals(positionalSpecs, positionals);
  return { values: values as OptionValues<O>, positionals, help };
}

function checkPositionals(specs: readonly PositionalSpec[], got: readonly string[]): void {
  const rest = specs.some((p) => p.rest === true);
  const required = specs.filter((p) => p.optional !== true).length;
  if (got.length < required) {
    const missing = specs.filter((p) => p.optional !== true)[got.length]!;
    throw new UsageError(`missing argument ${missing.name}`);
  }
  if (!rest && got.length > specs.length) throw new UsageError(`unexpected argument ${JSON.stringify(got[specs.length])}`);
}

/** Turns a command declaration into a runnable, strictly parsed command. */
export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  const generic = spec as unknown as CommandSpec<OptionSpecs>;
  return {
    name: spec.name,
    summary: spec.summary,
    help: () => helpText(generic),
    run: async (args) => {
      try {
        const parsed = parseCommandLine(spec.options, spec.positionals ?? [], args);
        if (parsed.help) {
          process.stdout.write(helpText(generic));
          return 0;
        }
        return await spec.run({ values: parsed.values, positionals: parsed.positionals });
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        const hint = e instanceof UsageError ? ` (see 'xendm help ${spec.name}')` : "";
        process.stderr.write(`xendm ${spec.name}: ${msg.split("\n")[0]!}${hint}\n`);
        return 2;
      }
    },
  };
}
