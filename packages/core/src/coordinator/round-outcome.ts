// Whether a checkpoint round may complete, from the records of its last two
// barriers. Pure: the coordinator acts on the answer.
//
// ckpt:written: every process reports its temporary image; one that could
// not write it says why ("error", and "tmp" for its name). Any such record
// fails the whole round, so that no process renames its image and the
// previous complete set stays.
// ckpt:resumed: a process whose rename failed says so; the images are then
// already a mixed set, and the checkpoint must not be reported complete.
//
// Both records are read with the parsers generated from dmtcp/records.h. A
// malformed written record is reported, not fatal (collectImages).
import path from 'node:path';
import { parseDmtcpResumedRecord } from '../generated/constants.ts';
import { collectImages, readWritten, type WrittenImage } from './barriers.ts';
import type { BarrierRecord } from './types.ts';

export type WrittenOutcome =
  | { ok: true; images: WrittenImage[]; problems: string[] }
  | { ok: false; reason: string; problems: string[] };

function writeFailure(r: BarrierRecord): string | null {
  const read = readWritten(r);
  if (!('record' in read) || !read.record.error) return null;
  const { error, tmp, image } = read.record;
  const temp = tmp || (image ? `${image}.tmp` : '');
  return `${temp ? path.basename(temp) : `${r.hello.prog} (upid ${r.upid})`}: ${error}`;
}

export function writtenOutcome(records: readonly BarrierRecord[], resolveDir: (r: BarrierRecord) => string): WrittenOutcome {
  const failures: string[] = [];
  for (const r of records) {
    const e = writeFailure(r);
    if (e) failures.push(e);
  }
  const { images, problems } = collectImages([...records], resolveDir);
  if (failures.length > 0) return { ok: false, reason: failures.join('; '), problems };
  return { ok: true, images, problems };
}

/** Why a checkpoint whose images were renamed is still incomplete, or null. An empty record is a rename that
 *  went through; so, as before, is one that is not a resumed record at all. */
export function resumedProblem(records: readonly BarrierRecord[]): string | null {
  const failures: string[] = [];
  for (const r of records) {
    if (r.payload.length === 0) continue;
    const p = parseDmtcpResumedRecord(r.payload);
    const error = p.ok ? p.value.error : undefined;
    if (error) failures.push(`${r.hello.prog} (upid ${r.upid}): ${error}`);
  }
  return failures.length > 0 ? `incomplete, the images are a mixed set: ${failures.join('; ')}` : null;
}
