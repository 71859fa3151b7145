// Time as the platform devices see it: the guest's time since boot (hvm_get_guest_time, ns) and the
// host's wall clock (wc_sec + NOW(), seconds with microseconds). Tests drive a ManualClock.

export interface GuestClock {
  /** guest time in nanoseconds */
  nowNs(): bigint;
  /** host wall-clock time in microseconds since the epoch */
  wallclockUs(): bigint;
}

/** The host's clocks: guest time counts from construction. */
export class HostClock implements GuestClock {
  private readonly t0 = process.hrtime.bigint();
  nowNs(): bigint {
    return process.hrtime.bigint() - this.t0;
  }
  wallclockUs(): bigint {
    return BigInt(Date.now()) * 1000n;
  }
}

/** A clock that moves only when told to. */
export class ManualClock implements GuestClock {
  constructor(
    private ns = 0n,
    private wallUs = 1_700_000_000_000_000n,
  ) {}
  nowNs(): bigint {
    return this.ns;
  }
  wallclockUs(): bigint {
    return this.wallUs;
  }
  advance(ns: bigint | number): void {
    const d = BigInt(ns);
    this.ns += d;
    this.wallUs += d / 1000n;
  }
}
