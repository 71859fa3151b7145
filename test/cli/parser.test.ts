import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defineCommand, parseCommandLine, suggest, UsageError } from "../../src/cli/command.js";
import { colorEnabled } from "../../src/cli/color.js";
import { commandNames, main } from "../../src/cli/main.js";
import pkg from "../../package.json" with { type: "json" };

let out = "";
let err = "";
beforeEach(() => {
  out = "";
  err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
});

const oneLine = (): void => {
  expect(err.trim().split("\n")).toHaveLength(1);
};

const SEED = "0f000000000000000700040002000000" + "00".repeat(16);
const ENC = JSON.stringify({ op: "XEN_DMOP_nr_vcpus" });

describe("the top level", () => {
  it("lists every command with its one-line summary", async () => {
    expect(await main(["help"])).toBe(0);
    for (const n of commandNames()) expect(out).toMatch(new RegExp(`^  ${n} +\\S.{10,}$`, "m"));
    expect(err).toBe("");
  });
  it("no command: the same list on stderr, exit 2", async () => {
    expect(await main([])).toBe(2);
    expect(out).toBe("");
    expect(err).toMatch(/^usage: xendm <command>/);
  });
  it("--version prints the package version", async () => {
    expect(await main(["--version"])).toBe(0);
    expect(out).toBe(`xendm ${pkg.version}\n`);
  });
  it.each(["toString", "constructor", "__proto__", "hasOwnProperty", "ecnode"])("command lookup refuses %s", async (name) => {
    expect(await main([name])).toBe(2);
    expect(err).toMatch(new RegExp(`unknown command "${name}"`));
    oneLine();
  });
  it("suggests the nearest command", async () => {
    expect(await main(["ecnode", "x"])).toBe(2);
    expect(err).toMatch(/did you mean 'encode'/);
  });
  it("help <command> prints that command's options; an unknown topic exits 2", async () => {
    expect(await main(["help", "encode"])).toBe(0);
    expect(out).toMatch(/^usage: xendm encode \[options\] <type> <json>/);
    expect(out).toMatch(/--arch ARCH +the ABI; one of x86_64, i386, arm64, arm32; default x86_64/);
    out = "";
    expect(await main(["help", "toString"])).toBe(2);
    expect(out).toBe("");
    oneLine();
  });
});

describe.each(commandNames().filter((n) => n !== "serve"))("xendm %s", (name) => {
  it("--help and help agree and exit 0", async () => {
    expect(await main([name, "--help"])).toBe(0);
    const a = out;
    out = "";
    expect(await main(["help", name])).toBe(0);
    expect(out).toBe(a);
    expect(a).toMatch(new RegExp(`^usage: xendm ${name}`));
  });
  it("refuses an unknown option with one line on stderr and exit 2", async () => {
    expect(await main([name, "--frobnicate", "x"])).toBe(2);
    expect(err).toMatch(new RegExp(`^xendm ${name}: unknown option --frobnicate`));
    expect(out).toBe("");
    oneLine();
  });
});

describe("codec commands", () => {
  it("--arhc is refused, not ignored, with a suggestion", async () => {
    expect(await main(["encode", "xen_dm_op", ENC, "--arhc", "i386"])).toBe(2);
    expect(err).toMatch(/unknown option --arhc \(did you mean --arch\?\)/);
    expect(out).toBe("");
  });
  it("--opt=value and --opt value give the same bytes", async () => {
    expect(await main(["encode", "xen_dm_op_buf", '{"size":3}', "--arch=i386"])).toBe(0);
    const a = out;
    out = "";
    expect(await main(["encode", "--arch", "i386", "xen_dm_op_buf", '{"size":3}'])).toBe(0);
    expect(out).toBe(a);
    expect(a).toBe("0000000003000000\n");
  });
  it.each([
    [["encode", "xen_dm_op", ENC, "--arch"], /--arch needs a value: one of x86_64, i386, arm64, arm32/],
    [["decode", "--arch", "--hypervisor", "xen_dm_op", SEED], /--arch needs a value/],
    [["layout", "--arch", "sparc"], /--arch must be one of x86_64, i386, arm64, arm32 \(got "sparc"\)/],
    [["decode", "xen_dm_op", SEED, "--hypervisor=yes"], /--hypervisor takes no value/],
    [["encode", "xen_dm_op", ENC, "surplus"], /unexpected argument "surplus"/],
    [["encode", "xen_dm_op"], /missing argument <json>/],
    [["layout", "ioreq_t", "buf_ioreq_t"], /unexpected argument "buf_ioreq_t"/],
    [["layout", "--arch", "i386", "--arch", "arm64"], /--arch given twice/],
    [["replay"], /missing argument TRACE.jsonl/],
    [["run"], /missing argument FILE/],
    [["p2m", "x.json"], /--domid is required/],
    [["demo", "surplus"], /unexpected argument "surplus"/],
  ])("%j exits 2 with one line", async (args, msg) => {
    expect(await main(args)).toBe(2);
    expect(err).toMatch(msg);
    oneLine();
  });
  it("a positional after -- is taken as is", async () => {
    expect(await main(["layout", "--json", "--", "xen_dm_op_buf"])).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ types: [{ name: "xen_dm_op_buf" }] });
  });
  it("layout --list lists the type names, tags and typedefs", async () => {
    expect(await main(["layout", "--list"])).toBe(0);
    const names = out.trim().split("\n");
    expect(names).toContain("ioreq");
    expect(names).toContain("ioreq_t");
    expect(names).toContain("xen_dm_op");
  });
});

describe("parseCommandLine", () => {
  const opts = { n: { type: "string", value: "N", help: "" }, many: { type: "string", multiple: true, help: "" }, v: { type: "boolean", short: "v", help: "" } } as const;
  it("types values from the declaration, with defaults", () => {
    const p = parseCommandLine(opts, [{ name: "X", rest: true, optional: true }], ["--many", "a", "-v", "--many=b", "p"]);
    const n: string | undefined = p.values.n;
    const many: string[] = p.values.many;
    const v: boolean = p.values.v;
    expect({ n, many, v, pos: p.positionals }).toEqual({ n: undefined, many: ["a", "b"], v: true, pos: ["p"] });
  });
  it("refuses -x short options it does not know", () => {
    expect(() => parseCommandLine(opts, [], ["-x"])).toThrow(UsageError);
  });
  it("keeps a lone '-' as a value", () => {
    expect(parseCommandLine(opts, [], ["--n", "-"]).values.n).toBe("-");
  });
  it("suggests only close names", () => {
    expect(suggest("arhc", ["arch", "json"])).toBe("arch");
    expect(suggest("zzzz", ["arch", "json"])).toBeUndefined();
  });
  it("a declared command reports its body's errors as one line, exit 2", async () => {
    const c = defineCommand({
      name: "t",
      summary: "s",
      options: {},
      run() {
        throw new Error("broken\nsecond line");
      },
    });
    expect(await c.run([])).toBe(2);
    expect(err).toBe("xendm t: broken\n");
  });
});

describe("colour", () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it.each([
    [{}, tty, {}, true],
    [{}, pipe, {}, false],
    [{}, tty, { NO_COLOR: "1" }, false],
    [{}, tty, { NO_COLOR: "" }, true],
    [{}, tty, { TERM: "dumb" }, false],
    [{}, pipe, { FORCE_COLOR: "1" }, true],
    [{}, pipe, { FORCE_COLOR: "" }, true],
    [{}, tty, { FORCE_COLOR: "0" }, false],
    [{}, tty, { FORCE_COLOR: "1", NO_COLOR: "1" }, true],
    [{ "no-color": true }, tty, { FORCE_COLOR: "1" }, false],
    [{ color: true }, pipe, { NO_COLOR: "1" }, true],
  ])("flags %j on %j with %j: %s", (flags, stream, env, want) => {
    expect(colorEnabled(flags, stream, env)).toBe(want);
  });
});
