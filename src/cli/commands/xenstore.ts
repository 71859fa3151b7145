// xendm xenstore: inspect (and poke) a running xenstored over its socket (docs/xenstore.md).
import { XsError } from "../../xenstore/errors.js";
import { XsSocketClient } from "../../xenstore/client.js";
import { defineCommand, UsageError } from "../command.js";

const OPTIONS = {
  socket: { type: "string", value: "PATH", help: "the xenstored socket; default $XENSTORED_PATH" },
  recursive: { type: "boolean", short: "R", help: "ls: the whole subtree, one node per line with its full path" },
  perms: { type: "boolean", short: "p", help: "ls: show each node's permissions" },
} as const;

/** Bounds a recursive listing: a tree this big is not for reading on a terminal */
const MAX_NODES = 1_000_000;

type Sub = (c: XsSocketClient, args: string[], o: { recursive: boolean; perms: boolean }) => Promise<number>;

const line = (path: string, value: string, perms: string[] | undefined): string =>
  `${path} = ${JSON.stringify(value)}${perms !== undefined ? `  (${perms.join(",")})` : ""}\n`;

const SUBS: Readonly<Record<string, { args: [number, number]; run: Sub }>> = {
  ls: {
    args: [0, 1],
    run: async (c, [path = "/"], o) => {
      if (!o.recursive) {
        for (const k of await c.ls(path)) {
          const p = path === "/" ? `/${k}` : `${path}/${k}`;
          process.stdout.write(line(k, await c.read(p).catch(() => ""), o.perms ? await c.getPerms(p) : undefined));
        }
        return 0;
      }
      const stack = [path];
      let n = 0;
      while (stack.length > 0) {
        const p = stack.pop()!;
        if (++n > MAX_NODES) throw new UsageError(`more than ${MAX_NODES} nodes under ${path}`);
        process.stdout.write(line(p, await c.read(p).catch(() => ""), o.perms ? await c.getPerms(p) : undefined));
        const kids = await c.ls(p).catch(() => []);
        for (let i = kids.length - 1; i >= 0; i--) stack.push(p === "/" ? `/${kids[i]!}` : `${p}/${kids[i]!}`);
      }
      return 0;
    },
  },
  read: { args: [1, Infinity], run: async (c, paths) => { for (const p of paths) process.stdout.write(`${await c.read(p)}\n`); return 0; } },
  write: { args: [2, 2], run: async (c, [p, v]) => { await c.write(p!, v!); return 0; } },
  rm: { args: [1, Infinity], run: async (c, paths) => { for (const p of paths) await c.rm(p); return 0; } },
};

export const command = defineCommand({
  name: "xenstore",
  summary: "inspect a running xenstored (xendm serve --xenstore): ls [-R] [-p], read, write, rm",
  positionals: [{ name: "ls|read|write|rm" }, { name: "ARGS", optional: true, rest: true }],
  options: OPTIONS,
  details: [
    "  xendm xenstore ls -R /local/domain/1     the subtree, one node per line: PATH = \"value\"",
    "  xendm xenstore read /local/domain/1/name",
    "exit status: 0 done; 1 the xenstored refused (its error, e.g. ENOENT, on stderr); 2 bad arguments",
  ].join("\n"),
  run: async ({ values, positionals: [sub, ...rest] }) => {
    const s = SUBS[sub!];
    if (s === undefined) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)} (ls, read, write or rm)`);
    if (rest.length < s.args[0] || rest.length > s.args[1]) throw new UsageError(`${sub!}: wrong number of arguments`);
    const socket = values.socket ?? process.env.XENSTORED_PATH;
    if (socket === undefined || socket === "") throw new UsageError("--socket PATH or XENSTORED_PATH is required");
    const c = await XsSocketClient.open(socket);
    try {
      return await s.run(c, rest, { recursive: values.recursive, perms: values.perms });
    } catch (e) {
      if (!(e instanceof XsError)) throw e;
      process.stderr.write(`xendm xenstore: ${sub!} ${rest.join(" ")}: ${e.code}\n`);
      return 1;
    } finally {
      c.close();
    }
  },
});
export const { run, summary } = command;
