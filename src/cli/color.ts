// Whether to colour the output, as terminals and their users expect (Node's tty hasColors() rules):
// --color / --no-color win; then FORCE_COLOR (set and not "0"/"false": on; "0"/"false": off); then a
// non-empty NO_COLOR, NODE_DISABLE_COLORS or TERM=dumb turn it off; otherwise colour only on a terminal.

export interface ColorFlags {
  color?: boolean;
  "no-color"?: boolean;
}

/** The `--color` / `--no-color` options, for commands that colour their output. */
export const COLOR_OPTIONS = {
  color: { type: "boolean", help: "colour even when not writing to a terminal" },
  "no-color": { type: "boolean", help: "no colour (also: NO_COLOR=1, TERM=dumb)" },
} as const;

export function colorEnabled(
  flags: ColorFlags = {},
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (flags["no-color"] === true) return false;
  if (flags.color === true) return true;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !(force === "0" || force === "false");
  if ((env.NO_COLOR ?? "") !== "" || env.NODE_DISABLE_COLORS !== undefined || env.TERM === "dumb") return false;
  return stream.isTTY === true;
}
