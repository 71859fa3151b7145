// A dm_op run one continuation at a time. Xen preempts a long DMOP by turning -ERESTART into a
// hypercall continuation (common/dm.c:do_dm_op -> hypercall_create_continuation): the vCPU re-enters
// the hypercall later and other vCPUs and domains run meanwhile. A DmOpRun is that call between its
// passes, so that a server can serve others between them.
import { performance } from "node:perf_hooks";
import { ERESTART } from "./explain.js";
import type { Explanation } from "./explain.js";
import { dmOpPass } from "./dm.js";
import type { DmOpCall, DmOpTables } from "./dm.js";

/** "more": the call made a pass and continues (another pass is due); a number: its final rc. */
export type DmOpStep = "more" | number;

/** Where a finished call's passes and refusal go (the hypervisor's "last call" state). */
export type DmOpSettle = (call: DmOpCall) => void;

/**
 * One dm_op hypercall between its passes (Hypervisor.beginDmOp, dmOpSliced): step() makes the next
 * pass, the way the vCPU re-enters a continued hypercall. It owns the call's state, so runs stepped
 * in any interleaving each end as dm_op would.
 */
export class DmOpRun {
  #call: DmOpCall;
  #rc: number | undefined;
  #abandoned = false;

  /** @internal Built by Hypervisor.beginDmOp / dmOpSliced, with the call's entry checks passed. */
  constructor(call: DmOpCall, private readonly tables: DmOpTables, private readonly settle: DmOpSettle, rc?: number) {
    this.#call = call;
    this.#rc = rc;
  }

  /** The final rc once the call returned, else undefined. */
  get rc(): number | undefined {
    return this.#rc;
  }

  get done(): boolean {
    return this.#rc !== undefined || this.#abandoned;
  }

  /** Passes made so far (1 + continuations). */
  get passes(): number {
    return this.#call.passes;
  }

  /** Why this call was refused, or null (so far, or when it succeeded). */
  explain(): Explanation | null {
    return this.#call.explanation;
  }

  /** One pass. After the call returned, its rc again; after abandon(), a RangeError. */
  step(): DmOpStep {
    if (this.#rc !== undefined) return this.#rc;
    if (this.#abandoned) throw new RangeError("dm_op run: the call was abandoned");
    const rc = dmOpPass(this.#call, this.tables);
    if (rc === ERESTART) return "more";
    return this.#finish(rc);
  }

  /** Passes until the call returns or `sliceMs` has gone by (at least one pass). */
  run(sliceMs: number): DmOpStep {
    if (this.#rc !== undefined) return this.#rc;
    const until = performance.now() + sliceMs;
    for (;;) {
      const r = this.step();
      if (r !== "more" || performance.now() >= until) return r;
    }
  }

  /**
   * Makes no more passes: the domain keeps what the passes made did (each pass ends where Xen's
   * continuation would), the call has no result, and the "last call" state is left as it is.
   */
  abandon(): void {
    if (this.#rc === undefined) this.#abandoned = true;
  }

  #finish(rc: number): number {
    this.#rc = rc;
    this.settle(this.#call);
    return rc;
  }
}
