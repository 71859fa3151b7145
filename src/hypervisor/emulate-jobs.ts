// The vCPU's jobs as objects: the pooled single-chunk job, its release, and the shared results.
import type { AccessResult, Chunk, Job, VcpuState } from "./emulate-types.js";

/** The result of a finished write (or data_is_ptr access) of one repetition; never changed. */
export const DONE_ONE: AccessResult = Object.freeze({ status: "done", reps: 1 });

/** A one-chunk job: the vCPU's spare one when it has it, else a new one (pooled from then on). */
export function oneChunk(
  v: VcpuState, kind: "pio" | "mmio", isMmio: boolean, addr: bigint, size: number, count: number, dir: number, df: number,
  ptr: number, data: bigint, onDone: Job["onDone"],
): Job {
  const job = v.spare;
  if (job === null) {
    const chunk: Chunk = { isMmio, addr, size, count, dir, df, dataIsPtr: ptr, data, offset: 0 };
    return { kind, chunks: [chunk], index: 0, bytes: null, value: 0n, dir, reps: 1, takeData: false, next: null, onDone, final: null, pooled: true, direct: null };
  }
  v.spare = null;
  const c = job.chunks[0]!;
  c.isMmio = isMmio;
  c.addr = addr;
  c.size = size;
  c.count = count;
  c.dir = dir;
  c.df = df;
  c.dataIsPtr = ptr;
  c.data = data;
  job.kind = kind;
  job.index = 0;
  job.value = 0n;
  job.dir = dir;
  job.reps = 1;
  job.takeData = false;
  job.next = null;
  job.onDone = onDone;
  job.final = null;
  return job;
}

/** The job's final result, or null while it runs; a finished pooled job becomes the vCPU's spare. */
export function release(v: VcpuState, job: Job): AccessResult | null {
  const r = job.final;
  if (r !== null && job.pooled && v.spare === null) {
    job.onDone = undefined;
    v.spare = job;
  }
  return r;
}

/**
 * What run() and wake() return while the vCPU still waits. Callers never hand it out: with a job
 * still in progress they build the pending result from the vCPU's waits (current()).
 */
export const PENDING: AccessResult = Object.freeze({ status: "pending", server: -1, vcpu: -1 });
