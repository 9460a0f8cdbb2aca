// The name service behind DMT_KV_PUT / DMT_KV_GET: namespaced key/value
// pairs that processes publish for their peers (e.g. where a listening
// socket went after restart). It is a coordinator plugin like any other,
// built in and always installed, so the coordinator itself knows nothing of
// publish/subscribe.
import { DMT_KV_GET, DMT_KV_PUT, DMT_KV_VALUE, DMTCP_KV_MISSING, DMTCP_KV_OK } from '../generated/constants.ts';
import { definePlugin, type CoordinatorPlugin } from '../plugin/index.ts';

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

export interface NameService extends CoordinatorPlugin {
  readonly store: KvStore;
}

/** The publish/subscribe plugin over a store of its own. Values published
 *  for one round are forgotten when the next round (or computation) starts:
 *  a peer's address from an older restart would be wrong. */
export function nameService(store = new KvStore()): NameService {
  return definePlugin({
    name: 'dmtcp',
    store,
    requests: {
      [DMT_KV_PUT]: (req) => {
        const kv = splitKvPut(req.payload, req.extra);
        if (!kv) throw new Error(`malformed KV_PUT in namespace "${req.name}"`);
        store.put(req.name, kv.key, kv.value);
      },
      [DMT_KV_GET]: (req) => {
        const value = store.get(req.name, kvKey(req.payload, req.extra > 0));
        return { type: DMT_KV_VALUE, extra: value ? DMTCP_KV_OK : DMTCP_KV_MISSING, payload: value };
      },
    },
    reset: () => store.clear(),
  });
}
