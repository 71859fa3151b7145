// Conformance to libxendevicemodel: which xendevicemodel_* call a request stands for and how it differs.
export { Conformance, CONFORM_TARGETS, isConformTarget, type ConformTarget } from "./check.js";
export { ConformReport, describeDifference, type ConformReportJson, type OperationSummary } from "./report.js";
export { checkTrace } from "./trace.js";
export { conformObserver, sentCall, type ConformObserverOptions } from "./observer.js";
export type { ConformPath, Difference, DifferenceKind, SentBuf, SentCall, Verdict } from "./types.js";
