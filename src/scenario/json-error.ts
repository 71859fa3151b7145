// Where a JSON text stops being JSON: the byte offset, line and column of the first error, found by a
// small scanner that follows RFC 8259 (JSON.parse on Node 20 does not say where).

export interface JsonErrorAt {
  offset: number;
  /** 1-based */
  line: number;
  /** 1-based, in UTF-16 units of the line */
  column: number;
  /** what was expected there */
  expected: string;
}

class Stop extends Error {
  constructor(
    readonly at: number,
    readonly expected: string,
  ) {
    super(expected);
  }
}

/** The first syntax error of `text`, or undefined when it is valid JSON. */
export function jsonErrorAt(text: string): JsonErrorAt | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const lit = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else throw new Stop(i, "a value");
  };
  const str = (): void => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) throw new Stop(i, "the end of the string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new Stop(i, "no control character inside a string");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new Stop(i, "a valid escape");
      } else i++;
    }
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null || m[0] === "" || m[0] === "-") throw new Stop(i, "a value");
    i += m[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 512) throw new Stop(i, "less nesting");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Stop(i, "a key in double quotes");
        str();
        ws();
        if (text[i] !== ":") throw new Stop(i, "':'");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return;
        } else throw new Stop(i, "',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return;
        } else throw new Stop(i, "',' or ']'");
      }
    }
    if (c === '"') { str(); return; }
    if (c === "t") { lit("true"); return; }
    if (c === "f") { lit("false"); return; }
    if (c === "n") { lit("null"); return; }
    num();
  };
  try {
    value(0);
    ws();
    if (i < text.length) throw new Stop(i, "the end of the text");
    return undefined;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const before = text.slice(0, e.at);
    const line = before.split("\n").length;
    const column = e.at - (before.lastIndexOf("\n") + 1) + 1;
    return { offset: e.at, line, column, expected: e.expected };
  }
}
