// Which virtual ids the computation uses, on every host, so that a new
// process never takes one another process already answers to. Pure: the
// coordinator module feeds it claims, restart reports and leaves.

/** What a process asks for (see struct pid_claim in native/pid_wire.h). */
export interface ClaimRequest {
  wanted: number;
  /** Only `wanted` will do: refuse (0) rather than hand out another id. */
  exact: boolean;
  /** The caller's host hands out pids below this. */
  pidMax: number;
  /** Ids the caller's host already uses. */
  avoid: readonly number[];
}

/** Lowest id ever handed out instead of a wanted one (below it the kernel
 *  starts over after a wrap). */
export const LOWEST_SPARE = 301;

/** An owner that is not (yet) a process the coordinator knows. */
export const UNKNOWN_OWNER = '?';

export class VidRegistry {
  private readonly owners = new Map<number, string>();
  private readonly byOwner = new Map<string, Set<number>>();

  /** The id the caller may use: `wanted` when no other owner has it. */
  claim(owner: string | null, req: ClaimRequest): number {
    const who = owner ?? UNKNOWN_OWNER;
    if (req.wanted > 0) {
      const holder = this.owners.get(req.wanted);
      if (holder === undefined || (holder === who && who !== UNKNOWN_OWNER)) {
        this.take(who, req.wanted);
        return req.wanted;
      }
    }
    if (req.exact) return 0;
    const avoid = new Set(req.avoid);
    for (let n = req.pidMax - 1; n >= LOWEST_SPARE; n--) {
      if (!this.owners.has(n) && !avoid.has(n)) {
        this.take(who, n);
        return n;
      }
    }
    return 0;
  }

  /** After a restart: every task reported its virtual id. */
  restored(owner: string, vids: readonly number[]): void {
    for (const v of vids) this.take(owner, v);
  }

  /** A process left: its ids are free again. */
  release(owner: string): void {
    for (const v of this.byOwner.get(owner) ?? []) {
      if (this.owners.get(v) === owner) this.owners.delete(v);
    }
    this.byOwner.delete(owner);
  }

  clear(): void {
    this.owners.clear();
    this.byOwner.clear();
  }

  ownerOf(vid: number): string | undefined {
    return this.owners.get(vid);
  }

  get size(): number {
    return this.owners.size;
  }

  private take(owner: string, vid: number): void {
    const prev = this.owners.get(vid);
    if (prev !== undefined && prev !== owner) this.byOwner.get(prev)?.delete(vid);
    this.owners.set(vid, owner);
    let set = this.byOwner.get(owner);
    if (!set) this.byOwner.set(owner, (set = new Set()));
    set.add(vid);
  }
}
