// Record access lives with the codec (src/codec/ioreq-record.ts): the fake and the emulator side both
// read and write ioreq pages through it.
export * from "../codec/ioreq-record.js";
