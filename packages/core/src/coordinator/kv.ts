// The name service behind DMT_KV_PUT / DMT_KV_GET: namespaced key/value
// pairs that processes publish for their peers (e.g. where a listening
// socket went after restart).

/** Splits a KV_PUT payload. A NUL separator is preferred because keys may
 *  contain commas; "key,value" is accepted for readability. */
export function splitKvPut(payload: Buffer): { key: string; value: Buffer } | null {
  let sep = payload.indexOf(0);
  if (sep < 0) sep = payload.indexOf(0x2c);
  if (sep < 0) return null;
  return { key: payload.subarray(0, sep).toString('utf8'), value: Buffer.from(payload.subarray(sep + 1)) };
}

/** A trailing NUL is tolerated so that C can send strlen+1 bytes. */
export function kvKey(payload: Buffer): string {
  const end = payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload.length;
  return payload.subarray(0, end).toString('utf8');
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
