// The coordinator's key/value database for DMTCP-style plugins: DMTCP's
// request and response semantics, and the wire format the runtime speaks.
import { describe, expect, test } from 'vitest';
import {
  decodeKvdbRequest, dmtcp5Kvdb, encodeKvdbAnswer, Kvdb, KvdbRequest as Q, KvdbResponse as R, KVDB_CALL,
} from '../src/coordinator/dmtcp5-kvdb.ts';

describe('Kvdb', () => {
  test('set and get; get of a missing database or key', () => {
    const db = new Kvdb();
    expect(db.request(Q.GET, 'd', 'k', '')).toEqual({ response: R.DB_NOT_FOUND, old: '' });
    expect(db.request(Q.SET, 'd', 'k', 'v1')).toEqual({ response: R.SUCCESS, old: '' });
    expect(db.request(Q.SET, 'd', 'k', 'v2')).toEqual({ response: R.SUCCESS, old: 'v1' });
    expect(db.request(Q.GET, 'd', 'k', '')).toEqual({ response: R.SUCCESS, old: 'v2' });
    expect(db.request(Q.GET, 'd', 'other', '')).toEqual({ response: R.KEY_NOT_FOUND, old: '' });
  });

  test('numeric requests on decimal int64, a new key taking the operand', () => {
    const db = new Kvdb();
    expect(db.request(Q.INCRBY, 'n', 'c', '5').old).toBe('');
    expect(db.request(Q.INCRBY, 'n', 'c', '-2').old).toBe('5');
    expect(db.request(Q.GET, 'n', 'c', '').old).toBe('3');
    db.request(Q.MAX, 'n', 'c', '10');
    db.request(Q.MIN, 'n', 'c', '7');
    expect(db.request(Q.GET, 'n', 'c', '').old).toBe('7');
    db.request(Q.AND, 'n', 'c', '6');
    db.request(Q.OR, 'n', 'c', '8');
    db.request(Q.XOR, 'n', 'c', '1');
    expect(db.request(Q.GET, 'n', 'c', '').old).toBe(String(((7 & 6) | 8) ^ 1));
    db.request(Q.SET, 'n', 'big', '9223372036854775807');
    db.request(Q.INCRBY, 'n', 'big', '1');
    expect(db.request(Q.GET, 'n', 'big', '').old).toBe('-9223372036854775808');
  });

  test('get-or-set keeps what is there', () => {
    const db = new Kvdb();
    expect(db.request(Q.GET_OR_SET, 'd', 'k', 'first')).toEqual({ response: R.SUCCESS, old: '' });
    expect(db.request(Q.GET_OR_SET, 'd', 'k', 'second')).toEqual({ response: R.SUCCESS, old: 'first' });
  });

  test('invalid requests change nothing', () => {
    const db = new Kvdb();
    expect(db.request(Q.SET, '', 'k', 'v').response).toBe(R.INVALID_REQUEST);
    expect(db.request(Q.SET, 'd', '', 'v').response).toBe(R.INVALID_REQUEST);
    expect(db.request(Q.SET, 'd', 'k', '').response).toBe(R.INVALID_REQUEST);
    expect(db.request(Q.INCRBY, 'd', 'k', 'x').response).toBe(R.INVALID_REQUEST);
    expect(db.request(Q.INCRBY, 'd', 'k', '99999999999999999999').response).toBe(R.INVALID_REQUEST);
    expect(db.request(42, 'd', 'k', '1').response).toBe(R.INVALID_REQUEST);
    expect(db.request(Q.GET, 'd', 'k', '').response).toBe(R.DB_NOT_FOUND);
  });
});

describe('wire format', () => {
  test('request: digit, id, key, value, each NUL-terminated; answer: digit then the old value', () => {
    expect(decodeKvdbRequest(Buffer.from('2\0db\0key\x007\0', 'latin1'))).toEqual({ op: 2, id: 'db', key: 'key', val: '7' });
    expect(decodeKvdbRequest(Buffer.from('x\0db\0key\0', 'latin1'))).toBeNull();
    expect(encodeKvdbAnswer({ response: R.KEY_NOT_FOUND, old: '' }).toString()).toBe('3');
    expect(encodeKvdbAnswer({ response: R.SUCCESS, old: '12' }).toString()).toBe('012');
  });

  test('the module answers its call and forgets with the computation, not with a round', () => {
    const plugin = dmtcp5Kvdb();
    const call = (payload: string): string =>
      (plugin.calls?.[KVDB_CALL]?.({ upid: null, hello: null, payload: Buffer.from(payload, 'latin1') }) ?? Buffer.alloc(0)).toString('latin1');
    expect(call('1\0d\0k\0v\0')).toBe('0');
    plugin.reset?.('round');
    expect(call('0\0d\0k\0\0')).toBe('0v');
    plugin.reset?.('computation');
    expect(call('0\0d\0k\0\0')).toBe('2');
    expect(call('garbage')).toBe('1');
  });
});
