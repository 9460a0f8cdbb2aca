// The name service behind DMT_KV_PUT / DMT_KV_GET: namespaced key/value
// pairs that processes publish for their peers (e.g. where a listening
// socket went after restart).

// Keys are byte strings (plugins publish binary keys such as ints); they are
// kept as latin1 strings, which map bytes one to one.

/** Splits a KV_PUT payload. The runtime gives the key length in the frame's
 *  `extra`; without it a NUL separator is used, or "key,value". */
export function splitKvPut(payload: Buffer, keyLen = 0): { key: string; value: Buffer } | null {
  if (keyLen > 0) {
    if (keyLen > payload.length) return null;
    return { key: payload.subarray(0, keyLen).toString('latin1'), value: Buffer.from(payload.subarray(keyLen)) };
  }
  let sep = payload.indexOf(0);
  if (sep < 0) sep = payload.indexOf(0x2c);
  if (sep < 0) return null;
  return { key: payload.subarray(0, sep).toString('latin1'), value: Buffer.from(payload.subarray(sep + 1)) };
}

/** The whole payload is the key when the frame's `extra` says so; otherwise
 *  a trailing NUL is tolerated so that C can send strlen+1 bytes. */
export function kvKey(payload: Buffer, exact = false): string {
  const end = !exact && payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload.length;
  return payload.subarray(0, end).toString('latin1');
}

export class KvStore {
  private readonly spaces = new Map<string, Map<string, Buffer>>();

  put(ns: string, key: string, value: Buffer): void {
    let m = this.spaces.get(ns);
    if (!m) {
      m = new Map();
      this.spaces.set(ns, m);
    }
    m.set(key, value);
  }

  get(ns: string, key: string): Buffer | undefined {
    return this.spaces.get(ns)?.get(key);
  }

  /** Everything in one namespace, for policies that match records. */
  entries(ns: string): [string, Buffer][] {
    return [...(this.spaces.get(ns) ?? [])];
  }

  clear(): void {
    this.spaces.clear();
  }
}
