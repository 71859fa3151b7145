// A small JSON Schema (2020-12) validator for the keywords schema/scenario.schema.json uses: type,
// const, enum, properties, required, additionalProperties, items, oneOf, $ref (#/$defs/...), minimum.
// Returns the JSON pointer of the first violation, or undefined.
type Schema = boolean | { [k: string]: unknown };

const typeOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);

export function validate(root: Schema, v: unknown): string | undefined {
  const resolve = (s: Schema): Schema =>
    typeof s === "object" && typeof s.$ref === "string" ? resolve(((root as Record<string, unknown>).$defs as Record<string, Schema>)[s.$ref.replace(/^#\/\$defs\//, "")]!) : s;
  const requiredOf = (s: Schema): string[] => { const r = resolve(s); return typeof r === "object" && Array.isArray(r.required) ? (r.required as string[]) : []; };
  const go = (s: Schema, x: unknown, at: string): string | undefined => {
    if (s === true) return undefined;
    if (s === false) return `${at}: not allowed`;
    if (typeof s.$ref === "string") {
      const def = s.$ref.replace(/^#\/\$defs\//, "");
      return go(((root as Record<string, unknown>).$defs as Record<string, Schema>)[def]!, x, at);
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      const t = typeOf(x);
      if (!types.some((w) => w === t || (w === "number" && t === "integer"))) return `${at}: expected ${types.join(" or ")}, got ${t}`;
    }
    if ("const" in s && JSON.stringify(s.const) !== JSON.stringify(x)) return `${at}: expected ${JSON.stringify(s.const)}`;
    if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(x))) return `${at}: not one of ${JSON.stringify(s.enum)}`;
    if (typeof s.minimum === "number" && typeof x === "number" && x < s.minimum) return `${at}: below ${s.minimum}`;
    if (typeOf(x) === "object") {
      const o = x as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in o)) return `${at}: missing ${r}`;
      for (const [k, xv] of Object.entries(o)) {
        if (k in props) {
          const e = go(props[k]!, xv, `${at}/${k}`);
          if (e !== undefined) return e;
        } else if (s.additionalProperties !== undefined) {
          const e = go(s.additionalProperties as Schema, xv, `${at}/${k}`);
          if (e !== undefined) return e;
        }
      }
    }
    if (typeOf(x) === "array" && s.items !== undefined) {
      for (const [i, e] of (x as unknown[]).entries()) {
        const err = go(s.items as Schema, e, `${at}/${i}`);
        if (err !== undefined) return err;
      }
    }
    if (Array.isArray(s.oneOf)) {
      const branches = s.oneOf as Schema[];
      const errors = branches.map((b) => go(b, x, at));
      const ok = errors.filter((e) => e === undefined).length;
      if (ok === 0) {
        // no branch matches: when the value names one by its required keys, that branch's error
        const o = typeOf(x) === "object" ? (x as Record<string, unknown>) : {};
        const named = branches.findIndex((b) => requiredOf(b).length > 0 && requiredOf(b).every((r) => r in o));
        if (named >= 0) return errors[named];
      }
      if (ok !== 1) return `${at}: matches ${ok} of the oneOf branches, not exactly one`;
    }
    return undefined;
  };
  return go(root, v, "");
}
