// One JSON form for every value xendm prints (`xendm decode`, `dump --json`, `run --json`) and for API
// users who serialise what the codec returns: 64-bit integers (bigints) as decimal strings, byte arrays
// as lowercase hex strings, everything else as JSON has it. Every input that takes a 64-bit value accepts
// the decimal string back (and numbers, 0x strings, symbolic names).

/** The JSON.stringify replacer behind the convention. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.length).toString("hex");
  return value;
}

/** JSON text of any value, 64-bit integers as decimal strings. */
export function stringifyJson(value: unknown, space?: number): string {
  return JSON.stringify(value, jsonReplacer, space) ?? "null";
}
