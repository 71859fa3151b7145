// xendm command-line entry: one module per command under ./commands, loaded on demand.
import { pathToFileURL } from "node:url";

export interface CommandModule {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

/** Command name -> module file (relative to this directory). Thin modules over the library. */
const COMMANDS: Readonly<Record<string, string>> = {
  encode: "./commands/encode.js",
  decode: "./commands/decode.js",
  dump: "./commands/dump.js",
  layout: "./commands/layout.js",
  run: "./commands/run.js",
  p2m: "./commands/p2m.js",
  demo: "./commands/demo.js",
  serve: "./commands/serve.js",
  replay: "./commands/replay.js",
  exec: "./commands/exec.js",
};

async function load(name: string): Promise<CommandModule> {
  const file = COMMANDS[name];
  if (file === undefined) throw new Error(`unknown command '${name}'`);
  const mod = (await import(file)) as CommandModule;
  return mod;
}

function usage(): string {
  return [
    "usage: xendm <command> [args]",
    "commands: " + Object.keys(COMMANDS).join(", "),
    "run 'xendm <command> --help' for a command's options",
  ].join("\n");
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

export async function main(argv: string[]): Promise<number> {
  quietOnEpipe(process.stdout);
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage() + "\n");
    return name === undefined ? 2 : 0;
  }
  if (!(name in COMMANDS)) {
    process.stderr.write(`xendm: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  const cmd = await load(name);
  try {
    return await cmd.run(rest);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`xendm ${name}: ${msg}\n`);
    return 2;
  }
}

const invoked = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invoked) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
