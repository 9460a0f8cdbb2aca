// What becomes of an open file that vanished (removed, or renamed away)
// between the checkpoint and the restart: the policy of
// `dmtcp restart --missing-files` (DMTCP_FILE_MISSING), decided per file.
//
// Each restarted process that finds files missing asks once, with the
// "file:missing" call (native/file_missing.c). Request, one item per line:
//   policy VALUE                 DMTCP_FILE_MISSING as given (VALUE may be empty)
//   f FD SAVED DESCS             one per missing file: its first descriptor,
//                                1 when the image holds its bytes, and its
//                                descriptions in this process as ACC CREATED
//                                pairs (r, w, b or -, then 1 when opened with
//                                O_CREAT), comma separated: "w1,r0"
// Reply: a first line "= POLICY" (the policy applied) or "! WHY" (the value
// was refused; the default applies), then one character per "f" line:
//   - leave it closed   c create it (empty, or its saved bytes)
//   r recreate it as the program could have: its saved bytes or holes up to
//     its size at the checkpoint, so that writes land at the saved offsets
import { FILE_CALL_MISSING } from './generated/wire.ts';
import type { Mode } from './share.ts';

/** FILE_CALL_MISSING in native/file_wire.h. */
export const MISSING_CALL = FILE_CALL_MISSING;

export const MISSING_POLICIES = ['auto', 'error', 'create'] as const;
export type MissingPolicy = (typeof MISSING_POLICIES)[number];
export const DEFAULT_MISSING_POLICY: MissingPolicy = 'auto';

export type MissingAction = 'leave' | 'create' | 'recreate';

export interface MissingDescription {
  mode: Mode;
  /** Opened with O_CREAT. */
  created: boolean;
}

export interface MissingFile {
  fd: number;
  /** The image holds the file's bytes (launch --ckpt-open-files). */
  saved: boolean;
  descriptions: readonly MissingDescription[];
}

export class MissingPolicyError extends Error {
  override readonly name = 'MissingPolicyError';
}

/** The policy a DMTCP_FILE_MISSING value names; unset or empty is the default. */
export function parseMissingPolicy(value: string | undefined): MissingPolicy {
  if (value === undefined || value === '') return DEFAULT_MISSING_POLICY;
  const p = MISSING_POLICIES.find((name) => name === value);
  if (p === undefined) {
    throw new MissingPolicyError(`DMTCP_FILE_MISSING=${value}: expected ${MISSING_POLICIES.join(', ')} (default ${DEFAULT_MISSING_POLICY})`);
  }
  return p;
}

const writable = (m: Mode): boolean => m === 'w' || m === 'b';

/**
 * `error` leaves every vanished file closed; `create` makes every one again
 * (as --missing-files create always did); `auto`, the default, makes again
 * only a file the program opened with O_CREAT for writing, since the program
 * would have created it itself, and leaves the others (files it only reads,
 * or opened without O_CREAT) closed as `error` does.
 */
export function decideMissing(policy: MissingPolicy, file: MissingFile): MissingAction {
  switch (policy) {
    case 'error':
      return 'leave';
    case 'create':
      return 'create';
    case 'auto':
      return file.descriptions.some((d) => d.created && writable(d.mode)) ? 'recreate' : 'leave';
  }
}

export class MissingRecordError extends Error {
  override readonly name = 'MissingRecordError';
}

export interface MissingRequest {
  /** DMTCP_FILE_MISSING as the restart gave it ('' when unset). */
  policy: string;
  files: MissingFile[];
}

const MODES = new Set<string>(['r', 'w', 'b', '-']);
const DESC = /^([rwb-])([01])$/;

export function decodeMissingRequest(payload: Buffer): MissingRequest {
  const text = payload.toString('latin1');
  if (!text.endsWith('\n')) throw new MissingRecordError(`${MISSING_CALL}: the request does not end with a newline`);
  const lines = text.slice(0, -1).split('\n');
  const first = lines.shift() ?? '';
  if (first !== 'policy' && !first.startsWith('policy ')) {
    throw new MissingRecordError(`${MISSING_CALL}: the request does not start with "policy VALUE"`);
  }
  const out: MissingRequest = { policy: first.slice('policy '.length), files: [] };
  for (const line of lines) {
    const f = line.split(' ');
    const [tag, fd = '', saved = '', descs = ''] = f;
    const parsed = descs.split(',').map((d) => DESC.exec(d));
    if (tag !== 'f' || f.length !== 4 || !/^\d+$/.test(fd) || (saved !== '0' && saved !== '1') || parsed.some((m) => m === null)) {
      throw new MissingRecordError(`${MISSING_CALL}: malformed line ${JSON.stringify(line.slice(0, 80))}: expected "f FD SAVED ACC CREATED[,...]"`);
    }
    out.files.push({
      fd: Number(fd),
      saved: saved === '1',
      descriptions: parsed.map((m) => {
        const mode = m?.[1] ?? '';
        if (!MODES.has(mode)) throw new MissingRecordError(`${MISSING_CALL}: unknown access mode ${JSON.stringify(mode)}`);
        return { mode: mode as Mode, created: m?.[2] === '1' };
      }),
    });
  }
  return out;
}

const ACTION_CHAR: Record<MissingAction, string> = { leave: '-', create: 'c', recreate: 'r' };

/** The call's answer to one process. */
export function missingCall(payload: Buffer): Buffer {
  const req = decodeMissingRequest(payload);
  let head: string;
  let policy: MissingPolicy;
  try {
    policy = parseMissingPolicy(req.policy);
    head = `= ${policy}`;
  } catch (e) {
    if (!(e instanceof MissingPolicyError)) throw e;
    policy = DEFAULT_MISSING_POLICY;
    head = `! ${e.message}; using ${policy}`;
  }
  const actions = req.files.map((f) => ACTION_CHAR[decideMissing(policy, f)]).join('');
  return Buffer.from(`${head}\n${actions}`, 'latin1');
}
