// The key/value database of DMTCP's plugin API (dmtcp_kvdb_request and
// friends in include/dmtcp/dmtcp.h): named databases of string values,
// with the numeric requests of DMTCP's kvdb (increment, and/or/xor, min/max)
// on values read as decimal int64. It is forgotten when the last process of
// the computation goes: the coordinator keeps nothing across a restart
// (DMTCP's keeps its database until the coordinator exits).
import { definePlugin, type CoordinatorPlugin } from '../plugin/index.ts';

/** DMTCP's request and response numbers (dmtcp.h). */
export const KvdbRequest = { GET: 0, SET: 1, INCRBY: 2, AND: 3, OR: 4, XOR: 5, MIN: 6, MAX: 7, GET_OR_SET: 8 } as const;
export const KvdbResponse = { SUCCESS: 0, INVALID_REQUEST: 1, DB_NOT_FOUND: 2, KEY_NOT_FOUND: 3 } as const;
export type KvdbResponseCode = (typeof KvdbResponse)[keyof typeof KvdbResponse];

export const KVDB_CALL = 'dmtcp5:kvdb';

export interface KvdbAnswer {
  response: KvdbResponseCode;
  /** The value before the request (for GET: the value); '' when there was none. */
  old: string;
}

const INT64 = /^-?\d{1,19}$/;
const MIN64 = -(1n << 63n);
const MAX64 = (1n << 63n) - 1n;

function wrap64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

/** The numeric requests on (old, operand); old is absent for a new key, which then takes the operand. */
function combine(op: number, old: bigint | undefined, val: bigint): bigint {
  if (old === undefined) return val;
  switch (op) {
    case KvdbRequest.INCRBY: return wrap64(old + val);
    case KvdbRequest.AND: return old & val;
    case KvdbRequest.OR: return old | val;
    case KvdbRequest.XOR: return old ^ val;
    case KvdbRequest.MIN: return old < val ? old : val;
    case KvdbRequest.MAX: return old > val ? old : val;
    default: throw new Error(`not a numeric request: ${op}`);
  }
}

export class Kvdb {
  private readonly dbs = new Map<string, Map<string, string>>();

  request(op: number, id: string, key: string, val: string): KvdbAnswer {
    const invalid = { response: KvdbResponse.INVALID_REQUEST, old: '' } as const;
    if (!id || !key || (op !== KvdbRequest.GET && !val)) return invalid;
    const db = this.dbs.get(id);
    const old = db?.get(key);
    if (op === KvdbRequest.GET) {
      if (!db) return { response: KvdbResponse.DB_NOT_FOUND, old: '' };
      if (old === undefined) return { response: KvdbResponse.KEY_NOT_FOUND, old: '' };
      return { response: KvdbResponse.SUCCESS, old };
    }
    const target = db ?? new Map<string, string>();
    if (op === KvdbRequest.SET) {
      target.set(key, val);
    } else if (op === KvdbRequest.GET_OR_SET) {
      if (old === undefined) target.set(key, val);
    } else if (op >= KvdbRequest.INCRBY && op <= KvdbRequest.MAX) {
      if (!INT64.test(val) || (old !== undefined && !INT64.test(old))) return invalid;
      const operand = BigInt(val);
      const before = old === undefined ? undefined : BigInt(old);
      if (operand < MIN64 || operand > MAX64 || (before !== undefined && (before < MIN64 || before > MAX64))) return invalid;
      target.set(key, String(combine(op, before, operand)));
    } else {
      return invalid;
    }
    if (!db) this.dbs.set(id, target);
    return { response: KvdbResponse.SUCCESS, old: old ?? '' };
  }

  clear(): void {
    this.dbs.clear();
  }
}

/** Request payload: the request number as one ASCII digit, then id, key and value, each NUL-terminated. */
export function decodeKvdbRequest(payload: Buffer): { op: number; id: string; key: string; val: string } | null {
  const parts = payload.toString('latin1').split('\0');
  if (parts.length < 4 || !/^\d$/.test(parts[0] ?? '')) return null;
  return { op: Number(parts[0]), id: parts[1] ?? '', key: parts[2] ?? '', val: parts[3] ?? '' };
}

/** Reply payload: the response number as one ASCII digit, then the old value. */
export function encodeKvdbAnswer(a: KvdbAnswer): Buffer {
  return Buffer.concat([Buffer.from(String(a.response)), Buffer.from(a.old, 'latin1')]);
}

export function dmtcp5Kvdb(db = new Kvdb()): CoordinatorPlugin {
  return definePlugin({
    name: 'dmtcp5',
    calls: {
      [KVDB_CALL]: (call) => {
        const req = decodeKvdbRequest(call.payload);
        if (!req) return encodeKvdbAnswer({ response: KvdbResponse.INVALID_REQUEST, old: '' });
        return encodeKvdbAnswer(db.request(req.op, req.id, req.key, req.val));
      },
    },
    reset: (scope) => {
      if (scope === 'computation') db.clear();
    },
  });
}
