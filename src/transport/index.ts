// Transports to a (real or fake) /dev/xen/privcmd, the socket server and its trace tools.
export type { Transport, TransportFactory, TransportBuf, CallOutcome, IoctlOutcome } from "./types.js";
export { InProcessTransport, InProcessTransportFactory } from "./inprocess.js";
export { SocketTransport, SocketTransportFactory, TransportError, type SocketOptions } from "./socket.js";
export { PrivcmdTransport, PrivcmdTransportFactory, PrivcmdOpenError } from "./privcmd.js";
export { XendmServer, type ServerOptions } from "./server.js";
export { createFakeHost, worldForDomains, type FakeHost } from "./fake.js";
export { replayTrace, readTrace, type ReplayResult, type Divergence } from "./replay.js";
export { TraceWriter, TRACE_FORMAT, type TraceAbandoned, type TraceCall, type TraceHeader } from "./trace.js";
export { readWorldFile, worldOf } from "./world-file.js";
export * as protocol from "./protocol.js";
export { SharedPages, SharedPagesError, mapShared, DEFAULT_SHARED_BYTES } from "./shared-pages.js";
export { EvtchnFiles, type EvtchnEntry, type EvtchnStats } from "./evtchn-files.js";
export { EventRing, type EventAreaMemory } from "./evtchn-ring.js";
export { attachSocket, socketIoreqPort, SocketPortError, type SocketIoreqPort, type SocketTarget } from "./ioreq-socket.js";
