// xendm command-line entry. Each command is a module under ./commands exporting `command`, a declaration
// made with defineCommand (./command.ts): its summary, positionals and options, parsed strictly. Adding a
// command is one file there and one line in COMMANDS below (docs/architecture.md, "Adding a command").
import { pathToFileURL } from "node:url";
import { packageVersion } from "../package-root.js";
import { suggest, type Command } from "./command.js";

/** A command module: `command` from defineCommand, or the older `{ summary, run }` shape. */
interface CommandModule {
  readonly command?: Command;
  readonly summary?: string;
  readonly run?: (args: string[]) => Promise<number>;
}

/** Command name -> its module, loaded on demand. Listed in this order by `xendm help`. */
const COMMANDS: ReadonlyMap<string, () => Promise<CommandModule>> = new Map<string, () => Promise<CommandModule>>([
  ["encode", () => import("./commands/encode.js")],
  ["decode", () => import("./commands/decode.js")],
  ["dump", () => import("./commands/dump.js")],
  ["layout", () => import("./commands/layout.js")],
  ["run", () => import("./commands/run.js")],
  ["p2m", () => import("./commands/p2m.js")],
  ["demo", () => import("./commands/demo.js")],
  ["serve", () => import("./commands/serve.js")],
  ["replay", () => import("./commands/replay.js")],
  ["exec", () => import("./commands/exec.js")],
  ["qemu", () => import("./commands/qemu.js")],
  ["xenstore", () => import("./commands/xenstore.js")],
  ["conform", () => import("./commands/conform.js")],
]);

export const commandNames = (): string[] => [...COMMANDS.keys()];

async function load(name: string): Promise<Command> {
  const mod = await COMMANDS.get(name)!();
  if (mod.command !== undefined) return mod.command;
  const run = mod.run!;
  return {
    name,
    summary: mod.summary ?? "",
    help: () => `usage: xendm ${name} --help\n  ${mod.summary ?? ""}\n`,
    run: (args) => run([...args]),
  };
}

/** The package's version, from its package.json (in a checkout and in dist/). */
export const version = packageVersion;

async function topHelp(): Promise<string> {
  const cmds = await Promise.all(commandNames().map(load));
  const width = Math.max(...cmds.map((c) => c.name.length)) + 2;
  return [
    "usage: xendm <command> [options] [args]",
    "       xendm help <command> | xendm --version",
    "",
    "commands:",
    ...cmds.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "'xendm help <command>' (or 'xendm <command> --help') shows a command's arguments and options.",
  ].join("\n") + "\n";
}

/** A reader that went away (`xendm run ... | head`) ends the command quietly, as for other Unix tools. */
let quiet = false;
function quietOnEpipe(stream: NodeJS.WriteStream): void {
  if (quiet) return;
  quiet = true;
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

function unknownCommand(name: string): string {
  const near = suggest(name, COMMANDS.keys());
  return `xendm: unknown command ${JSON.stringify(name)}${near !== undefined ? ` (did you mean '${near}'?)` : ""}; 'xendm help' lists the commands\n`;
}

export async function main(argv: readonly string[]): Promise<number> {
  quietOnEpipe(process.stdout);
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(await topHelp());
    return 2;
  }
  if (name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    process.stdout.write(await topHelp());
    return 0;
  }
  if (name === "--version" || name === "-V") {
    if (rest.length > 0) {
      process.stderr.write(`xendm: --version takes no arguments\n`);
      return 2;
    }
    process.stdout.write(`xendm ${version()}\n`);
    return 0;
  }
  if (name === "help") {
    const [topic, ...more] = rest;
    if (more.length > 0 || !COMMANDS.has(topic!)) {
      process.stderr.write(more.length > 0 ? "xendm help: one command at a time\n" : unknownCommand(topic!));
      return 2;
    }
    process.stdout.write((await load(topic!)).help());
    return 0;
  }
  if (name.startsWith("-")) {
    process.stderr.write(`xendm: unknown option ${name} before the command; 'xendm help' lists the commands\n`);
    return 2;
  }
  if (!COMMANDS.has(name)) {
    process.stderr.write(unknownCommand(name));
    return 2;
  }
  const cmd = await load(name);
  try {
    return await cmd.run(rest);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`xendm ${name}: ${msg.split("\n")[0]!}\n`);
    return 2;
  }
}

const invoked = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invoked) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
