export { Conformance, CONFORM_TARGETS, isConformTarget, type ConformTarget } from "./check.js";
export type { ConformPath, Difference, DifferenceKind, SentBuf, SentCall, Verdict } from "./types.js";
