// Whether a checkpoint round may complete, from the records of its last two
// barriers. Pure: the coordinator acts on the answer.
//
// ckpt:written: every process reports its temporary image; one that could
// not write it says why ("error", and "tmp" for its name). Any such record
// fails the whole round, so that no process renames its image and the
// previous complete set stays.
// ckpt:resumed: a process whose rename failed says so; the images are then
// already a mixed set, and the checkpoint must not be reported complete.
import path from 'node:path';
import { collectImages, type WrittenImage } from './barriers.ts';
import type { BarrierRecord } from './types.ts';

export type WrittenOutcome =
  | { ok: true; images: WrittenImage[]; problems: string[] }
  | { ok: false; reason: string; problems: string[] };

function errorOf(r: BarrierRecord): { error: string; tmp: string | null } | null {
  let obj: unknown;
  try {
    obj = JSON.parse(r.payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return null;
  const o = obj as Record<string, unknown>;
  if (o.error === undefined || o.error === null || o.error === '') return null;
  const error = typeof o.error === 'string' ? o.error : JSON.stringify(o.error);
  const tmp = typeof o.tmp === 'string' && o.tmp !== '' ? o.tmp : typeof o.image === 'string' && o.image !== '' ? `${o.image}.tmp` : null;
  return { error, tmp };
}

function failureLine(r: BarrierRecord, e: { error: string; tmp: string | null }): string {
  const who = e.tmp ? path.basename(e.tmp) : `${r.hello.prog} (upid ${r.upid})`;
  return `${who}: ${e.error}`;
}

export function writtenOutcome(records: readonly BarrierRecord[], resolveDir: (r: BarrierRecord) => string): WrittenOutcome {
  const failures: string[] = [];
  for (const r of records) {
    const e = errorOf(r);
    if (e) failures.push(failureLine(r, e));
  }
  const { images, problems } = collectImages([...records], resolveDir);
  if (failures.length > 0) return { ok: false, reason: failures.join('; '), problems };
  return { ok: true, images, problems };
}

/** Why a checkpoint whose images were renamed is still incomplete, or null. */
export function resumedProblem(records: readonly BarrierRecord[]): string | null {
  const failures: string[] = [];
  for (const r of records) {
    const e = errorOf(r);
    if (e) failures.push(`${r.hello.prog} (upid ${r.upid}): ${e.error}`);
  }
  return failures.length > 0 ? `incomplete, the images are a mixed set: ${failures.join('; ')}` : null;
}
