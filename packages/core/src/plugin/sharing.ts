// Who makes an object again at restart when several processes held it: the
// lowest upid among its holders creates it and sends descriptors of it to
// the others (dmtcp/fdpass.h on the native side). One rule for every
// plugin, so that a process never waits for one that is itself waiting.

/** One process holding one object (any string naming the object). */
export interface Holding {
  /** 16 hex digits, as on the wire. */
  upid: string;
  object: string;
}

export interface Assignment {
  /** The holder that makes the object again. */
  creator: string;
  /** The other holders, lowest upid first, each once. */
  receivers: string[];
}

/** Orders upids as numbers (they are hex, possibly of unequal length). */
export function compareUpid(a: string, b: string): number {
  const x = a.toLowerCase().padStart(16, '0');
  const y = b.toLowerCase().padStart(16, '0');
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * For every object held by more than one process: its creator (the lowest
 * upid) and the rest. An object only one process holds is not in the
 * result: that process restores it alone. A process listed twice for one
 * object counts once.
 */
export function assignCreators(holdings: Iterable<Holding>): Map<string, Assignment> {
  const holders = new Map<string, Set<string>>();
  for (const h of holdings) {
    let s = holders.get(h.object);
    if (!s) holders.set(h.object, (s = new Set()));
    s.add(h.upid);
  }
  const out = new Map<string, Assignment>();
  for (const [object, set] of holders) {
    if (set.size < 2) continue;
    const [creator, ...receivers] = [...set].sort(compareUpid);
    out.set(object, { creator: creator!, receivers });
  }
  return out;
}
