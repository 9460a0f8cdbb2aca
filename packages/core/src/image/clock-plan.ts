// What CLOCK_MONOTONIC and CLOCK_BOOTTIME read after a restart, as the
// restart program's `--clocks` argument. Pure.
//
// Both clocks count from a boot. Restarted in the boot (and time namespace)
// it was checkpointed in, a process finds them where they would have been
// had it kept running: nothing to do. Restarted on another boot or host they
// would jump back or forward by the difference of the uptimes. The rule:
//   elapsed  the clocks advance by the wall-clock time the checkpoint was
//            down (what a program that kept running would have seen);
//   frozen   they go on from their checkpoint values, as if no time passed.
// The restart program makes the difference with a time namespace (offsets
// the kernel applies to every read, vDSO included) or, where it may not, a
// shift that plugin-timer's wrappers add.

export interface ClockPlanImage {
  /** CLOCK_REALTIME at checkpoint, ns */
  ckptTimeNs: bigint;
  clocks: {
    bootId: string;
    monotonicNs: bigint;
    boottimeNs: bigint;
    monotonicOffsetNs: bigint;
    boottimeOffsetNs: bigint;
  } | null;
}

export type ClockRule = 'elapsed' | 'frozen';

export interface ClockPlanHost {
  /** this boot's /proc/sys/kernel/random/boot_id, null when unreadable */
  bootId: string | null;
  /** may the restart program make a time namespace (and, unprivileged, a user namespace) */
  timeNamespace: boolean;
}

export const CLOCK_RULES: readonly ClockRule[] = ['elapsed', 'frozen'];

const INT64_MAX = (1n << 63n) - 1n;

const max = (xs: readonly bigint[]): bigint => xs.reduce((a, b) => (b > a ? b : a));

/** The `--clocks RULE,MONO,BOOT,REAL,NS` argument, or null when the images say nothing about their clocks. */
export function clockSpec(images: readonly ClockPlanImage[], rule: ClockRule, host: ClockPlanHost): string | null {
  const noted = images.map((i) => i.clocks);
  if (noted.length === 0 || noted.some((c) => c === null)) return null;
  const clocks = noted as NonNullable<ClockPlanImage['clocks']>[];
  const ns = host.timeNamespace ? 1 : 0;
  const spec = (r: string, mono: bigint, boot: bigint, real: bigint): string | null => {
    for (const v of [mono, boot, real]) if (v > INT64_MAX || v < -INT64_MAX) return null;
    return `${r},${mono},${boot},${real},${ns}`;
  };

  if (rule === 'frozen') {
    // The highest reading, so that no process's clock goes back.
    return spec('f', max(clocks.map((c) => c.monotonicNs)), max(clocks.map((c) => c.boottimeNs)), 0n);
  }
  const first = clocks[0]!;
  const sameBoot = host.bootId !== null && clocks.every((c) => c.bootId === host.bootId);
  const oneNamespace = clocks.every(
    (c) => c.monotonicOffsetNs === first.monotonicOffsetNs && c.boottimeOffsetNs === first.boottimeOffsetNs,
  );
  if (sameBoot && oneNamespace) {
    // The host's clocks kept counting meanwhile: the same offsets give exactly the elapsed time.
    return spec('o', first.monotonicOffsetNs, first.boottimeOffsetNs, 0n);
  }
  // Reading minus wall clock at checkpoint, the highest over the images,
  // counted from the latest checkpoint instant.
  const real = max(images.map((i) => i.ckptTimeNs));
  const base = (pick: (c: (typeof clocks)[number]) => bigint): bigint =>
    max(images.map((img, k) => pick(clocks[k]!) - img.ckptTimeNs)) + real;
  return spec('e', base((c) => c.monotonicNs), base((c) => c.boottimeNs), real);
}

/** The images' clock facts as the reader gives them. */
export function clockPlanImage(meta: {
  ckpt_time_ns: string;
  clocks: {
    boot_id: string;
    monotonic_ns: string;
    boottime_ns: string;
    monotonic_offset_ns: string;
    boottime_offset_ns: string;
  } | null;
}): ClockPlanImage {
  const c = meta.clocks;
  return {
    ckptTimeNs: BigInt(meta.ckpt_time_ns),
    clocks: c === null
      ? null
      : {
          bootId: c.boot_id,
          monotonicNs: BigInt(c.monotonic_ns),
          boottimeNs: BigInt(c.boottime_ns),
          monotonicOffsetNs: BigInt(c.monotonic_offset_ns),
          boottimeOffsetNs: BigInt(c.boottime_offset_ns),
        },
  };
}
