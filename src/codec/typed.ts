// The value types behind the generated per-type interfaces (types.generated.ts).

/**
 * An integer as the encoder takes it: a number, a bigint, a boolean, or a string (decimal, 0x, 0b, 0o, or
 * a symbolic name where the field has them; the generated types list those names for editors). Strings
 * are checked when encoding, not by the compiler, so values built at run time type-check.
 */
export type IntIn = number | bigint | boolean | string;

/** IntIn, listing a field's symbolic names for completion (any string is still accepted). */
export type Named<N extends string> = N | IntIn;

/** Exactly member K of a union's members U (the others absent). */
export type Only<U, K extends keyof U> = Pick<U, K> & { [M in Exclude<keyof U, K>]?: undefined };

/** One member of U, whichever: how a union without a selector decodes. */
export type OneOf<U> = { [K in keyof U]: Only<U, K> }[keyof U];
