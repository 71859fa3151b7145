// The core's rules, request by request, against xenstored 4.17's (xenstored_core.c and friends).
import { describe, expect, it } from "vitest";
import {
  XS_CONTROL, XS_DIRECTORY, XS_DIRECTORY_PART, XS_ERROR, XS_GET_DOMAIN_PATH, XS_GET_PERMS, XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED, XS_MKDIR, XS_READ, XS_RELEASE, XS_RESET_WATCHES, XS_RESUME, XS_RM, XS_SET_PERMS,
  XS_SET_TARGET, XS_TRANSACTION_END, XS_TRANSACTION_START, XS_UNWATCH, XS_WATCH, XS_WATCH_EVENT, XS_WRITE,
} from "../../abi/xen/xs_wire.js";
import { XenstoreCore } from "../../src/xenstore/core.js";
import { args, Caller, strings } from "./helpers.js";

const fresh = (): { core: XenstoreCore; d0: Caller } => {
  const core = new XenstoreCore();
  return { core, d0: new Caller(core) };
};
const write = (c: Caller, path: string, value: string, tx = 0): string => {
  const r = c.raw(XS_WRITE, Buffer.concat([args(path), Buffer.from(value, "latin1")]), tx);
  return r.type === XS_ERROR ? strings(r.payload)[0]! : r.payload.toString("latin1");
};
const read = (c: Caller, path: string, tx = 0): string => c.call(XS_READ, [path], tx);
const ls = (c: Caller, path: string, tx = 0): string[] => strings(Buffer.from(c.call(XS_DIRECTORY, [path], tx), "latin1"));
const perms = (c: Caller, path: string): string[] => strings(Buffer.from(c.call(XS_GET_PERMS, [path]), "latin1"));
const introduce = (c: Caller, domid: number): string => c.call(XS_INTRODUCE, [String(domid), "0", "1"]);

describe("the tree", () => {
  it("starts with /tool/xenstored owned by dom0, and the ack is OK\\0", () => {
    const { d0 } = fresh();
    expect(ls(d0, "/")).toEqual(["tool"]);
    expect(ls(d0, "/tool")).toEqual(["xenstored"]);
    expect(perms(d0, "/")).toEqual(["n0"]);
    expect(d0.raw(XS_WRITE, args("/a", "")).payload).toEqual(Buffer.from("OK\0"));
  });

  it("WRITE creates the parents; READ returns the bytes as written, NULs included; DIRECTORY lists in creation order", () => {
    const { d0 } = fresh();
    expect(write(d0, "/x/y/z", "v\0w")).toBe("OK\0");
    expect(read(d0, "/x/y/z")).toBe("v\0w");
    expect(read(d0, "/x/y")).toBe("");
    write(d0, "/x/b", "1");
    write(d0, "/x/a", "2");
    expect(ls(d0, "/x")).toEqual(["y", "b", "a"]);
    expect(d0.raw(XS_DIRECTORY, args("/x/b")).payload.length).toBe(0);
  });

  it("answers with xenstored's error strings", () => {
    const { d0 } = fresh();
    expect(d0.err(XS_READ, ["/nope"])).toBe("ENOENT");
    expect(d0.err(XS_READ, ["/bad/"])).toBe("EINVAL");
    expect(d0.err(XS_READ, ["/a//b"])).toBe("EINVAL");
    expect(d0.err(XS_READ, ["/a b"])).toBe("EINVAL");
    expect(d0.err(XS_READ, ["@introduceDomain"])).toBe("EINVAL");
    expect(d0.err(XS_READ, ["/a", "extra"])).toBe("EINVAL");
    expect(d0.err(XS_RM, ["/"])).toBe("EINVAL");
    expect(d0.err(XS_RM, ["/no/such"])).toBe("ENOENT");
    expect(d0.call(XS_RM, ["/nosuch"])).toBe("OK\0");
    expect(d0.raw(20, args("x")).payload.toString()).toBe("ENOSYS\0");
    expect(d0.raw(XS_WATCH_EVENT, args("x")).payload.toString()).toBe("ENOSYS\0");
    expect(d0.raw(99, Buffer.alloc(0)).payload.toString()).toBe("ENOSYS\0");
    expect(d0.err(XS_READ, ["/tool"], 7)).toBe("ENOENT"); // unknown transaction id
  });

  it("a path may be 2048 bytes past /local/domain/<d>/, no longer", () => {
    const { d0 } = fresh();
    const long = "/" + "a".repeat(2047);
    expect(write(d0, long, "x")).toBe("OK\0");
    expect(write(d0, long + "b", "x")).toBe("EINVAL");
    expect(write(d0, "/local/domain/3/" + "a".repeat(2048), "x")).toBe("OK\0");
    expect(write(d0, "/local/domain/3/" + "a".repeat(2049), "x")).toBe("EINVAL");
  });

  it("a reply over XENSTORE_PAYLOAD_MAX is E2BIG (DIRECTORY of a big directory)", () => {
    const { d0 } = fresh();
    for (let i = 0; i < 500; i++) write(d0, `/big/child-number-${i}`, "");
    expect(d0.err(XS_DIRECTORY, ["/big"])).toBe("E2BIG");
  });

  it("RM removes the subtree and the parent's entry", () => {
    const { d0 } = fresh();
    write(d0, "/r/a/b", "1");
    write(d0, "/r/c", "2");
    expect(d0.call(XS_RM, ["/r/a"])).toBe("OK\0");
    expect(ls(d0, "/r")).toEqual(["c"]);
    expect(d0.err(XS_READ, ["/r/a/b"])).toBe("ENOENT");
  });

  it("MKDIR creates an empty node and leaves an existing one alone", () => {
    const { d0 } = fresh();
    write(d0, "/m", "keep");
    expect(d0.call(XS_MKDIR, ["/m"])).toBe("OK\0");
    expect(read(d0, "/m")).toBe("keep");
    d0.call(XS_MKDIR, ["/m/n/o"]);
    expect(read(d0, "/m/n/o")).toBe("");
  });
});

describe("DIRECTORY_PART", () => {
  it("pages a big directory by byte offset, with the node's generation, ending in an empty string", () => {
    const { d0 } = fresh();
    const names = Array.from({ length: 600 }, (_, i) => `entry-${i}`);
    for (const n of names) write(d0, `/dp/${n}`, "");
    const got: string[] = [];
    let gen: string | undefined;
    let off = 0;
    for (let pages = 0; pages < 10; pages++) {
      const r = d0.raw(XS_DIRECTORY_PART, args("/dp", String(off)));
      expect(r.type).toBe(XS_DIRECTORY_PART);
      expect(r.payload.length).toBeLessThanOrEqual(4096);
      const parts = r.payload.toString("latin1").split("\0");
      gen ??= parts[0];
      expect(parts[0]).toBe(gen);
      const body = parts.slice(1);
      // a last page ends "...\0\0": the split leaves two empty strings
      const last = body.length >= 2 && body[body.length - 1] === "" && body[body.length - 2] === "";
      const kids = body.filter((s) => s !== "");
      got.push(...kids);
      off += kids.reduce((a, k) => a + k.length + 1, 0);
      if (last) break;
    }
    expect(got).toEqual(names);
    expect(d0.raw(XS_DIRECTORY_PART, args("/dp", "999999")).payload).toEqual(Buffer.from(`${gen}\0\0`));
    write(d0, "/dp/entry-0", "changed");
    expect(strings(d0.raw(XS_DIRECTORY_PART, args("/dp", "0")).payload)[0]).toBe(gen);
    write(d0, "/dp/new", "");
    expect(strings(d0.raw(XS_DIRECTORY_PART, args("/dp", "0")).payload)[0]).not.toBe(gen);
    expect(d0.err(XS_DIRECTORY_PART, ["/dp"])).toBe("EINVAL");
  });
});

describe("relative paths and domains", () => {
  it("a domain's relative paths live under /local/domain/<d>; GET_DOMAIN_PATH names it", () => {
    const { core, d0 } = fresh();
    introduce(d0, 3);
    d0.call(XS_MKDIR, ["/local/domain/3"]);
    d0.call(XS_SET_PERMS, ["/local/domain/3", "n3", "r0"]);
    const d3 = new Caller(core, 3);
    expect(write(d3, "device-model/state", "running")).toBe("OK\0");
    expect(read(d0, "/local/domain/3/device-model/state")).toBe("running");
    expect(read(d3, "device-model/state")).toBe("running");
    expect(write(d0, "rel", "x")).toBe("OK\0");
    expect(read(d0, "/local/domain/0/rel")).toBe("x");
    expect(d3.call(XS_GET_DOMAIN_PATH, ["3"])).toBe("/local/domain/3\0");
    expect(d3.call(XS_GET_DOMAIN_PATH, ["-1"])).toBe("/local/domain/4294967295\0");
  });

  it("new nodes inherit the parent's permissions; an unprivileged creator owns them", () => {
    const { core, d0 } = fresh();
    introduce(d0, 3);
    d0.call(XS_MKDIR, ["/local/domain/3"]);
    d0.call(XS_SET_PERMS, ["/local/domain/3", "n3", "r0", "b7"]);
    const d3 = new Caller(core, 3);
    write(d3, "a/b", "1");
    expect(perms(d0, "/local/domain/3/a")).toEqual(["n3", "r0", "b7"]);
    write(d0, "/local/domain/3/byzero", "1");
    expect(perms(d0, "/local/domain/3/byzero")).toEqual(["n3", "r0", "b7"]);
    d0.call(XS_SET_PERMS, ["/local/domain/3/byzero", "n0", "r3"]);
    expect(write(d3, "byzero/kid", "1")).toBe("EACCES"); // creating needs write access to the parent
    d0.call(XS_SET_PERMS, ["/local/domain/3/byzero", "n0", "b3"]);
    expect(write(d3, "byzero/kid", "1")).toBe("OK\0");
    expect(perms(d0, "/local/domain/3/byzero/kid")).toEqual(["n3", "b3"]);
  });

  it("permissions: owner, per-domain r/w/b/n, EACCES otherwise, and ENOENT only when the parent lets you know", () => {
    const { core, d0 } = fresh();
    for (const d of [1, 2]) introduce(d0, d);
    const d1 = new Caller(core, 1);
    const d2 = new Caller(core, 2);
    write(d0, "/p/open", "o");
    d0.call(XS_SET_PERMS, ["/p", "n0", "r1"]);
    d0.call(XS_SET_PERMS, ["/p/open", "n0", "r1", "b2"]);
    expect(read(d1, "/p/open")).toBe("o");
    expect(write(d1, "/p/open", "x")).toBe("EACCES");
    expect(write(d2, "/p/open", "y")).toBe("OK\0");
    expect(d2.err(XS_READ, ["/p"])).toBe("EACCES");
    expect(d1.err(XS_READ, ["/p/missing"])).toBe("ENOENT"); // d1 may read /p
    expect(d2.err(XS_READ, ["/p/missing"])).toBe("EACCES"); // d2 may not
    expect(d1.err(XS_SET_PERMS, ["/p/open", "n1"])).toBe("EACCES"); // not the owner
    d0.call(XS_SET_PERMS, ["/p", "n0", "b1"]);
    write(d1, "/p/mine", "1");
    expect(perms(d0, "/p/mine")).toEqual(["n1", "b1"]);
    expect(d1.err(XS_SET_PERMS, ["/p/mine", "n2"])).toBe("EPERM"); // unprivileged: no owner change
    expect(d1.call(XS_SET_PERMS, ["/p/mine", "n1", "r2"])).toBe("OK\0");
    expect(d1.err(XS_SET_PERMS, ["/p/mine", "x1"])).toBe("EINVAL");
    expect(d1.err(XS_SET_PERMS, ["/p/mine"])).toBe("EINVAL");
    expect(d1.err(XS_SET_PERMS, ["/p/mine", "n1", "r2", "r3", "r4", "r5", "r6"])).toBe("ENOSPC"); // > 5 perms
    expect(d1.err(XS_CONTROL, ["help"])).toBe("EACCES");
    expect(d1.err(XS_INTRODUCE, ["5", "0", "1"])).toBe("EACCES");
  });

  it("a device model SET_TARGET at a domain gets that domain's rights", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    introduce(d0, 9);
    write(d0, "/local/domain/1/data", "secret");
    d0.call(XS_SET_PERMS, ["/local/domain/1/data", "n1"]);
    const dm = new Caller(core, 9);
    expect(dm.err(XS_READ, ["/local/domain/1/data"])).toBe("EACCES");
    expect(d0.call(XS_SET_TARGET, ["9", "1"])).toBe("OK\0");
    expect(read(dm, "/local/domain/1/data")).toBe("secret");
    expect(d0.err(XS_SET_TARGET, ["9", "44"])).toBe("ENOENT");
    expect(d0.err(XS_SET_TARGET, ["9"])).toBe("EINVAL");
  });

  it("INTRODUCE, IS_DOMAIN_INTRODUCED, RESUME, RELEASE (which removes the domain's nodes)", () => {
    const { core, d0 } = fresh();
    const exists = (d: number): string => d0.call(XS_IS_DOMAIN_INTRODUCED, [String(d)]);
    expect(exists(4)).toBe("F\0");
    expect(exists(0)).toBe("T\0");
    expect(exists(0x7ff0)).toBe("T\0");
    expect(d0.err(XS_INTRODUCE, ["4", "0", "0"])).toBe("EINVAL");
    expect(d0.err(XS_INTRODUCE, ["4", "0"])).toBe("EINVAL");
    d0.call(XS_WATCH, ["@introduceDomain", "in"]);
    d0.call(XS_WATCH, ["@releaseDomain", "out"]);
    d0.takeEvents();
    expect(introduce(d0, 4)).toBe("OK\0");
    expect(d0.takeEvents()).toEqual([["@introduceDomain", "in"]]);
    introduce(d0, 4);
    expect(d0.takeEvents()).toEqual([]);
    expect(exists(4)).toBe("T\0");
    expect(d0.call(XS_RESUME, ["4"])).toBe("OK\0");
    expect(d0.err(XS_RESUME, ["5"])).toBe("ENOENT");
    expect(d0.err(XS_RELEASE, ["0"])).toBe("EINVAL");
    d0.call(XS_MKDIR, ["/local/domain/4"]);
    d0.call(XS_SET_PERMS, ["/local/domain/4", "n4"]);
    const d4 = new Caller(core, 4);
    write(d4, "kid", "1");
    write(d0, "/keep", "");
    d0.call(XS_WATCH, ["/local/domain", "tree"]);
    d0.call(XS_WATCH, ["/local/domain/4/kid", "kid"]);
    d0.takeEvents();
    expect(d0.call(XS_RELEASE, ["4"])).toBe("OK\0");
    expect(d4.closed).toBe(true);
    const ev = d0.takeEvents();
    expect(ev).toContainEqual(["/local/domain/4", "tree"]);
    expect(ev).toContainEqual(["/local/domain/4/kid", "kid"]); // nodes below fire exact watches only
    expect(ev).not.toContainEqual(["/local/domain/4/kid", "tree"]);
    expect(ev[ev.length - 1]).toEqual(["@releaseDomain", "out"]);
    expect(ls(d0, "/local/domain")).toEqual([]);
    expect(exists(4)).toBe("F\0");
    expect(d0.err(XS_RELEASE, ["4"])).toBe("ENOENT");
  });
});

describe("watches", () => {
  it("fire at registration, then for the node and below, with the path as given", () => {
    const { d0 } = fresh();
    expect(d0.call(XS_WATCH, ["/w", "tok"])).toBe("OK\0");
    expect(d0.takeEvents()).toEqual([["/w", "tok"]]);
    write(d0, "/w/a/b", "1");
    expect(d0.takeEvents()).toEqual([["/w/a/b", "tok"]]);
    write(d0, "/wx", "1"); // not below /w
    write(d0, "/", "");
    expect(d0.takeEvents()).toEqual([]);
    expect(d0.err(XS_WATCH, ["/w", "tok"])).toBe("EEXIST");
    expect(d0.err(XS_WATCH, ["/w"])).toBe("EINVAL");
    expect(d0.err(XS_WATCH, ["/w/", "t"])).toBe("EINVAL");
    expect(d0.call(XS_UNWATCH, ["/w", "tok"])).toBe("OK\0");
    expect(d0.err(XS_UNWATCH, ["/w", "tok"])).toBe("ENOENT");
    write(d0, "/w/a", "2");
    expect(d0.takeEvents()).toEqual([]);
  });

  it("relative watches get relative events", () => {
    const { core, d0 } = fresh();
    introduce(d0, 2);
    d0.call(XS_MKDIR, ["/local/domain/2"]);
    d0.call(XS_SET_PERMS, ["/local/domain/2", "n2"]);
    const d2 = new Caller(core, 2);
    d2.call(XS_WATCH, ["backend", "be"]);
    expect(d2.takeEvents()).toEqual([["backend", "be"]]);
    write(d0, "/local/domain/2/backend/vbd/0/state", "1");
    expect(d2.takeEvents()).toEqual([["backend/vbd/0/state", "be"]]);
    d2.call(XS_UNWATCH, ["backend", "be"]);
    write(d0, "/local/domain/2/backend/x", "1");
    expect(d2.takeEvents()).toEqual([]);
  });

  it("RM fires for the removed node (watches above it) and for each node below it (exact watches)", () => {
    const { d0 } = fresh();
    write(d0, "/t/a/b/c", "1");
    d0.call(XS_WATCH, ["/t", "top"]);
    d0.call(XS_WATCH, ["/t/a/b/c", "leaf"]);
    d0.call(XS_WATCH, ["/t/a/b/c/d", "below"]);
    d0.takeEvents();
    d0.call(XS_RM, ["/t/a"]);
    const ev = d0.takeEvents();
    expect(ev).toContainEqual(["/t/a", "top"]);
    expect(ev).toContainEqual(["/t/a/b/c", "leaf"]);
    expect(ev).not.toContainEqual(["/t/a/b/c", "top"]);
    expect(ev.some(([, t]) => t === "below")).toBe(false);
  });

  it("are only seen by those who may read the node or its parent", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    const d1 = new Caller(core, 1);
    write(d0, "/s/x", "1");
    d0.call(XS_SET_PERMS, ["/s", "n0"]);
    d0.call(XS_SET_PERMS, ["/s/x", "n0"]);
    d1.call(XS_WATCH, ["/s", "t"]);
    d1.takeEvents();
    write(d0, "/s/x", "2");
    expect(d1.takeEvents()).toEqual([]);
    d0.call(XS_SET_PERMS, ["/s/x", "n0", "r1"]);
    expect(d1.takeEvents()).toEqual([["/s/x", "t"]]);
  });

  it("special watches need read permission on the special node (SET_PERMS @introduceDomain)", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    const d1 = new Caller(core, 1);
    d1.call(XS_WATCH, ["@introduceDomain", "i"]);
    expect(d1.takeEvents()).toEqual([["@introduceDomain", "i"]]);
    introduce(d0, 5);
    expect(d1.takeEvents()).toEqual([]);
    expect(d1.err(XS_SET_PERMS, ["@introduceDomain", "n1"])).toBe("EACCES");
    d0.call(XS_SET_PERMS, ["@introduceDomain", "n0", "r1"]);
    introduce(d0, 6);
    expect(d1.takeEvents()).toEqual([["@introduceDomain", "i"]]);
    expect(d0.err(XS_SET_PERMS, ["@other", "n0"])).toBe("EINVAL");
  });

  it("watches per domain: more than 128 is E2BIG", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    const d1 = new Caller(core, 1);
    for (let i = 0; i <= 128; i++) d1.call(XS_WATCH, ["/q", `t${i}`]);
    expect(d1.err(XS_WATCH, ["/q", "one-too-many"])).toBe("E2BIG");
    expect(d1.call(XS_RESET_WATCHES)).toBe("OK\0");
    expect(d1.call(XS_WATCH, ["/q", "again"])).toBe("OK\0");
  });
});

describe("transactions", () => {
  it("see their own writes, hide them from others until commit, and fire watches at commit", () => {
    const { core, d0 } = fresh();
    const other = new Caller(core);
    write(d0, "/tx/a", "old");
    other.call(XS_WATCH, ["/tx", "w"]);
    other.takeEvents();
    const id = Number(d0.call(XS_TRANSACTION_START, [""]).replace("\0", ""));
    expect(id).toBe(1);
    expect(write(d0, "/tx/a", "new", id)).toBe("OK\0");
    write(d0, "/tx/b/c", "made", id);
    expect(read(d0, "/tx/a", id)).toBe("new");
    expect(read(other, "/tx/a")).toBe("old");
    expect(other.err(XS_READ, ["/tx/b/c"])).toBe("ENOENT");
    expect(other.takeEvents()).toEqual([]);
    expect(d0.call(XS_TRANSACTION_END, ["T"], id)).toBe("OK\0");
    expect(read(other, "/tx/a")).toBe("new");
    expect(read(other, "/tx/b/c")).toBe("made");
    const ev = other.takeEvents();
    expect(ev).toContainEqual(["/tx/a", "w"]);
    expect(ev).toContainEqual(["/tx/b/c", "w"]);
    expect(d0.err(XS_READ, ["/tx/a"], id)).toBe("ENOENT"); // the transaction is gone
  });

  it("a conflicting commit is EAGAIN; a retry succeeds; an abort leaves nothing", () => {
    const { core, d0 } = fresh();
    const other = new Caller(core);
    write(d0, "/c/n", "0");
    const t1 = Number(d0.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    const v = read(d0, "/c/n", t1);
    write(d0, "/c/n", String(Number(v) + 1), t1);
    write(other, "/c/n", "10");
    expect(d0.err(XS_TRANSACTION_END, ["T"], t1)).toBe("EAGAIN");
    expect(read(d0, "/c/n")).toBe("10");
    const t2 = Number(d0.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    expect(t2).toBe(2);
    write(d0, "/c/n", String(Number(read(d0, "/c/n", t2)) + 1), t2);
    expect(d0.call(XS_TRANSACTION_END, ["T"], t2)).toBe("OK\0");
    expect(read(d0, "/c/n")).toBe("11");
    const t3 = Number(d0.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    write(d0, "/c/gone", "x", t3);
    d0.call(XS_RM, ["/c/n"], t3);
    expect(d0.call(XS_TRANSACTION_END, ["F"], t3)).toBe("OK\0");
    expect(read(d0, "/c/n")).toBe("11");
    expect(ls(d0, "/c")).toEqual(["n"]);
  });

  it("a node read as missing that appears meanwhile is a conflict; unrelated writes are not", () => {
    const { core, d0 } = fresh();
    const other = new Caller(core);
    write(d0, "/k/a", "1");
    const t = Number(d0.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    expect(d0.err(XS_READ, ["/k/missing"], t)).toBe("ENOENT");
    write(d0, "/k/a", "2", t);
    write(other, "/elsewhere", "1");
    expect(d0.call(XS_TRANSACTION_END, ["T"], t)).toBe("OK\0");
    const t2 = Number(d0.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    d0.err(XS_READ, ["/k/missing"], t2);
    write(other, "/k/missing", "now");
    expect(d0.err(XS_TRANSACTION_END, ["T"], t2)).toBe("EAGAIN");
  });

  it("END needs T or F and a transaction; START inside one is EBUSY", () => {
    const { d0 } = fresh();
    expect(d0.err(XS_TRANSACTION_END, ["T"])).toBe("ENOENT");
    const t = Number(d0.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    expect(d0.err(XS_TRANSACTION_END, ["X"], t)).toBe("EINVAL");
    expect(d0.err(XS_TRANSACTION_START, [""], t)).toBe("EBUSY");
  });

  it("an unprivileged domain may hold 11 transactions (xenstored's quota check is '>'), not 12", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    const d1 = new Caller(core, 1);
    for (let i = 0; i < 11; i++) d1.call(XS_TRANSACTION_START, [""]);
    expect(d1.err(XS_TRANSACTION_START, [""])).toBe("ENOSPC");
  });
});

describe("quotas", () => {
  it("a transaction of an unprivileged domain touches at most 1024 nodes; the node quota is checked at commit", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    d0.call(XS_MKDIR, ["/local/domain/1"]);
    d0.call(XS_SET_PERMS, ["/local/domain/1", "n1"]);
    const d1 = new Caller(core, 1);
    d0.call(XS_CONTROL, ["quota", "set", "node-size", "100000"]); // room for the parent's child list
    const t = Number(d1.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    let code = "OK\0";
    let i = 0;
    for (; i < 1100 && code === "OK\0"; i++) code = write(d1, `n${i}`, "", t);
    expect(code).toBe("ENOSPC");
    expect(i).toBe(1024); // the parent, then one node per write: the 1024th write is the 1025th node
    expect(d1.err(XS_TRANSACTION_END, ["T"], t)).toBe("ENOMEM"); // the failed transaction cannot commit
    // a node-size refusal inside a transaction fails it too (write_node)
    d0.call(XS_CONTROL, ["quota", "set", "node-size", "2048"]);
    const t1 = Number(d1.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    expect(write(d1, "big", "x".repeat(2100), t1)).toBe("ENOSPC");
    expect(d1.err(XS_TRANSACTION_END, ["T"], t1)).toBe("ENOMEM");
    d0.call(XS_CONTROL, ["quota", "set", "nodes", "4"]);
    const t2 = Number(d1.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    for (let k = 0; k < 5; k++) expect(write(d1, `m${k}`, "", t2)).toBe("OK\0"); // counted only at commit
    expect(d1.err(XS_TRANSACTION_END, ["T"], t2)).toBe("ENOSPC");
    expect(d0.err(XS_READ, ["/local/domain/1/m0"])).toBe("ENOENT");
  });

  it("re-introducing a domain resets its connections' watches and transactions", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    const d1 = new Caller(core, 1);
    d1.call(XS_WATCH, ["/x", "t"]);
    const t = Number(d1.call(XS_TRANSACTION_START, [""]).slice(0, -1));
    introduce(d0, 1);
    expect(d1.err(XS_READ, ["/tool"], t)).toBe("ENOENT");
    d1.takeEvents();
    write(d0, "/x", "1");
    expect(d1.takeEvents()).toEqual([]);
  });

  it("an unprivileged node's record must stay under 2048 bytes", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    d0.call(XS_MKDIR, ["/local/domain/1"]);
    d0.call(XS_SET_PERMS, ["/local/domain/1", "n1"]);
    const d1 = new Caller(core, 1);
    // 24 header + 8 per permission + data: 2015 bytes of data make 2047
    expect(write(d1, "big", "x".repeat(2015))).toBe("OK\0");
    expect(write(d1, "big", "x".repeat(2016))).toBe("ENOSPC");
    expect(read(d1, "big").length).toBe(2015);
    expect(write(d0, "/local/domain/1/big", "x".repeat(4000))).toBe("OK\0");
  });

  it("an unprivileged domain owns at most 1000 nodes (CONTROL quota changes it)", () => {
    const { core, d0 } = fresh();
    introduce(d0, 1);
    d0.call(XS_CONTROL, ["quota", "set", "nodes", "5"]);
    d0.call(XS_MKDIR, ["/local/domain/1"]);
    d0.call(XS_SET_PERMS, ["/local/domain/1", "n1"]);
    const d1 = new Caller(core, 1);
    for (let i = 0; i < 4; i++) expect(write(d1, `n${i}`, "")).toBe("OK\0");
    expect(write(d1, "n4", "")).toBe("ENOSPC");
    expect(d0.call(XS_CONTROL, ["quota", "1"])).toContain("nodes           :        5");
    expect(d0.call(XS_CONTROL, ["quota"])).toContain("nodes            :        5 Nodes per domain");
    expect(d0.err(XS_CONTROL, ["quota", "set", "nodes", "0"])).toBe("EINVAL");
    expect(d0.err(XS_CONTROL, ["nope"])).toBe("EINVAL");
    expect(d0.call(XS_CONTROL, ["help"])).toContain("quota\t[set <name> <val>|<domid>]");
  });
});
