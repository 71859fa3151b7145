// Declarations for the parts of `restructure` (3.x, which ships none) that xendm uses.
declare module "restructure" {
  export class DecodeStream {
    constructor(buffer: Uint8Array);
    buffer: Uint8Array;
    view: DataView;
    pos: number;
    length: number;
  }
  export class EncodeStream {
    constructor(buffer: Uint8Array);
    buffer: Uint8Array;
    view: DataView;
    pos: number;
    fill(val: number, length: number): void;
  }
  /** What restructure calls a type: anything with size / decode / encode over its streams. */
  export interface RType<T = unknown> {
    size(value?: T | null, parent?: unknown): number;
    decode(stream: DecodeStream, parent?: unknown): T;
    encode(stream: EncodeStream, value: T, parent?: unknown): void;
  }
  export class Base<T = unknown> {
    fromBuffer(buffer: Uint8Array): T;
    toBuffer(value: T): Uint8Array;
  }
  export class Struct<T = Record<string, unknown>> extends Base<T> implements RType<T> {
    constructor(fields?: Record<string, RType>);
    fields: Record<string, RType>;
    size(value?: T | null, parent?: unknown): number;
    decode(stream: DecodeStream, parent?: unknown): T;
    encode(stream: EncodeStream, value: T, parent?: unknown): void;
  }
  export class Array<T = unknown> extends Base<T[]> implements RType<T[]> {
    constructor(type: RType<T>, length: number);
    size(value?: T[] | null, parent?: unknown): number;
    decode(stream: DecodeStream, parent?: unknown): T[];
    encode(stream: EncodeStream, value: T[], parent?: unknown): void;
  }
  export class Reserved extends Base<undefined> implements RType<undefined> {
    constructor(type: RType<number>, count?: number);
    size(value?: unknown, parent?: unknown): number;
    decode(stream: DecodeStream, parent?: unknown): undefined;
    encode(stream: EncodeStream, value: unknown, parent?: unknown): void;
  }
  export const uint8: RType<number>;
  export const uint16le: RType<number>;
  export const uint32le: RType<number>;
}
