// The socket plugin's decisions, as pure functions (no I/O, no clock):
// which connected sockets have their peer inside the computation, who
// listens and who connects when a pair is made again at restart, and which
// address each connector is given. Formats in native/socket_wire.h.
import { SOCKET_REPLY_MAX } from './generated/wire.ts';
import type { BarrierRecord } from './types.ts';

export class PolicyError extends Error {
  override name = 'PolicyError';
}

export interface Endpoint {
  upid: string;
  index: number;
  key: string;
  peer: string;
}

const KEY = /^[tu][0-9a-f]+$/;

function lines(payload: Buffer): string[] {
  return payload.toString('latin1').split('\n').filter((l) => l.length > 0);
}

/** The endpoints one process listed at socket:peers. */
export function parsePeers(r: BarrierRecord): Endpoint[] {
  return lines(r.payload).map((l) => {
    const f = l.split(' ');
    const index = Number(f[0]);
    if (f.length !== 3 || !/^\d+$/.test(f[0] ?? '') || !KEY.test(f[1] ?? '') || !KEY.test(f[2] ?? '')) {
      throw new PolicyError(`process ${r.upid} sent ${JSON.stringify(l)}, not "<index> <key> <peer key>"`);
    }
    return { upid: r.upid, index, key: f[1] as string, peer: f[2] as string };
  });
}

function reply(text: string, upid: string): Buffer {
  const b = Buffer.from(text, 'latin1');
  if (b.length > SOCKET_REPLY_MAX) throw new PolicyError(`reply of ${b.length} bytes to ${upid}, at most ${SOCKET_REPLY_MAX}`);
  return b;
}

/**
 * Pairs endpoints whose keys name each other. The end of the lower
 * (upid, index) listens at restart; both ends in one process are made there
 * together. A key several processes hold (a socket inherited across fork)
 * belongs to none of them: all its holders are told "shared".
 */
export function peersPolicy(records: readonly BarrierRecord[], nonce: string): Map<string, Buffer> {
  if (!/^[0-9a-f]{16}$/.test(nonce)) throw new PolicyError(`nonce ${JSON.stringify(nonce)} is not 16 hex digits`);
  const all = records.flatMap(parsePeers);
  const byKey = new Map<string, Endpoint[]>();
  for (const e of all) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  const out = new Map<string, string[]>(records.map((r) => [r.upid, [`nonce ${nonce}`]]));
  const say = (e: Endpoint, what: string): void => void out.get(e.upid)!.push(`${e.index} ${what}`);
  const order = (a: Endpoint, b: Endpoint): number => (a.upid < b.upid ? -1 : a.upid > b.upid ? 1 : a.index - b.index);
  const done = new Set<Endpoint>();
  let nextId = 1;
  for (const e of [...all].sort(order)) {
    if (done.has(e)) continue;
    const mine = byKey.get(e.key) ?? [];
    if (new Set(mine.map((m) => m.upid)).size > 1) {
      for (const m of mine) {
        say(m, 'shared');
        done.add(m);
      }
      continue;
    }
    const peers = (byKey.get(e.peer) ?? []).filter((p) => p.peer === e.key && !done.has(p));
    const peer = peers.length === 1 && new Set((byKey.get(e.peer) ?? []).map((p) => p.upid)).size === 1 ? peers[0] : undefined;
    done.add(e);
    if (!peer) {
      say(e, 'ext');
      continue;
    }
    done.add(peer);
    const id = nextId++;
    if (peer.upid === e.upid) {
      say(e, `pair ${id} local ${peer.index}`);
      say(peer, `pair ${id} local ${e.index}`);
    } else {
      say(e, `pair ${id} listen`);
      say(peer, `pair ${id} connect`);
    }
  }
  const byIndex = (a: string, b: string): number => Number(a.split(' ')[0]) - Number(b.split(' ')[0]);
  return new Map([...out].map(([upid, [head, ...l]]) => [upid, reply([head, ...l.sort(byIndex)].join('\n') + '\n', upid)]));
}

/** socket:addrs at restart: every connector gets the address its listener reported. */
export function addrsPolicy(records: readonly BarrierRecord[]): Map<string, Buffer> {
  const listening = new Map<string, string>();
  const wants = new Map<string, string[]>();
  for (const r of records) {
    const mine: string[] = [];
    for (const l of lines(r.payload)) {
      const f = l.split(' ');
      if (f[0] === 'L' && f.length === 3 && /^\d+$/.test(f[1] ?? '') && /^[0-9a-f]+$/.test(f[2] ?? '')) {
        if (listening.has(f[1] as string)) throw new PolicyError(`pair ${f[1]} has two listeners`);
        listening.set(f[1] as string, f[2] as string);
      } else if (f[0] === 'C' && f.length === 2 && /^\d+$/.test(f[1] ?? '')) {
        mine.push(f[1] as string);
      } else {
        throw new PolicyError(`process ${r.upid} sent ${JSON.stringify(l)}, not "L <id> <address>" or "C <id>"`);
      }
    }
    wants.set(r.upid, mine);
  }
  const out = new Map<string, Buffer>();
  for (const [upid, ids] of wants) {
    const text = ids.map((id) => {
      const addr = listening.get(id);
      if (addr === undefined) throw new PolicyError(`pair ${id}: process ${upid} connects, but no process listens for it`);
      return `${id} ${addr}\n`;
    });
    out.set(upid, reply(text.join(''), upid));
  }
  return out;
}
