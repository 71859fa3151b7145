// Where the package's own files are (fixtures/, native/, package.json), from a checkout (src/*.ts) and
// from an installed package (dist/src/*.js) alike.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/** The directory holding xendm's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "xendm") return (root = dir);
    } catch {
      // not here: one directory up
    }
  }
  throw new Error("xendm: cannot find the package's package.json above " + fileURLToPath(import.meta.url));
}

/** The package version (package.json). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

/**
 * The golden fixtures shipped with the package (layouts/, vectors/, records/, captures/, scenarios/):
 * `join(fixturesDir(), "scenarios", "claim.json")`. Also importable as `xendm/fixtures/...`.
 */
export function fixturesDir(): string {
  return join(packageRoot(), "fixtures");
}
