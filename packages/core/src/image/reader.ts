// Reads a checkpoint image without native code: the fixed header, the region
// and run tables (checked, not interpreted further) and the JSON metadata.
// Layout: include/dmtcp/image.h. Page data is never read, so inspecting a
// multi-gigabyte image costs a few small reads.
import { constants as fsConstants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import {
  DMTCP_IMAGE_HEADER_SIZE,
  DMTCP_IMAGE_MAGIC,
  DMTCP_IMAGE_VERSION,
  DMTCP_PAGE_SIZE,
  DMTCP_REGION_ALL_DATA,
  DMTCP_REGION_FILE,
  DMTCP_REGION_GROWSDOWN,
  DMTCP_REGION_HEAP,
  DMTCP_REGION_NORESERVE,
  DMTCP_REGION_SHARED,
  DMTCP_REGION_VDSO,
  DMTCP_REGION_VVAR,
} from '../generated/constants.ts';

// ---------------------------------------------------------------------------
// Layout. Written out by hand so that a reader of this file can see it;
// test/image-layout.test.ts compiles a probe against image.h and fails when
// any offset or size here drifts from the C structs.

export interface FieldSpec {
  readonly offset: number;
  readonly size: number;
}

export const HEADER_FIELDS = {
  magic: { offset: 0, size: 8 },
  version: { offset: 8, size: 4 },
  header_size: { offset: 12, size: 4 },
  image_size: { offset: 16, size: 8 },
  regions_offset: { offset: 24, size: 8 },
  num_regions: { offset: 32, size: 4 },
  region_size: { offset: 36, size: 4 },
  runs_offset: { offset: 40, size: 8 },
  num_runs: { offset: 48, size: 4 },
  run_size: { offset: 52, size: 4 },
  strings_offset: { offset: 56, size: 8 },
  strings_len: { offset: 64, size: 8 },
  meta_offset: { offset: 72, size: 8 },
  meta_len: { offset: 80, size: 8 },
  data_offset: { offset: 88, size: 8 },
  data_len: { offset: 96, size: 8 },
  restore_entry: { offset: 104, size: 8 },
  generation: { offset: 112, size: 8 },
  comp_id: { offset: 120, size: 8 },
  upid: { offset: 128, size: 8 },
  num_peers: { offset: 136, size: 4 },
  pid: { offset: 140, size: 4 },
  ckpt_time_ns: { offset: 144, size: 8 },
  tables_checksum: { offset: 152, size: 8 },
  header_checksum: { offset: 160, size: 8 },
  reserved: { offset: 168, size: 4096 - 168 },
} as const satisfies Record<string, FieldSpec>;

export const REGION_FIELDS = {
  start: { offset: 0, size: 8 },
  end: { offset: 8, size: 8 },
  file_offset: { offset: 16, size: 8 },
  file_size: { offset: 24, size: 8 },
  file_mtime_ns: { offset: 32, size: 8 },
  file_ino: { offset: 40, size: 8 },
  prot: { offset: 48, size: 4 },
  flags: { offset: 52, size: 4 },
  first_run: { offset: 56, size: 4 },
  num_runs: { offset: 60, size: 4 },
  path_offset: { offset: 64, size: 4 },
  reserved: { offset: 68, size: 4 },
} as const satisfies Record<string, FieldSpec>;

export const RUN_FIELDS = {
  addr: { offset: 0, size: 8 },
  len: { offset: 8, size: 8 },
  data_offset: { offset: 16, size: 8 },
} as const satisfies Record<string, FieldSpec>;

export const HEADER_STRUCT_SIZE = 4096;
export const REGION_STRUCT_SIZE = 72;
export const RUN_STRUCT_SIZE = 24;
/** region.path_offset of a region without a path. */
export const NO_PATH = 0xffffffff;

export const REGION_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [Number(DMTCP_REGION_FILE), 'file'],
  [Number(DMTCP_REGION_SHARED), 'shared'],
  [Number(DMTCP_REGION_GROWSDOWN), 'growsdown'],
  [Number(DMTCP_REGION_HEAP), 'heap'],
  [Number(DMTCP_REGION_VDSO), 'vdso'],
  [Number(DMTCP_REGION_VVAR), 'vvar'],
  [Number(DMTCP_REGION_ALL_DATA), 'all_data'],
  [Number(DMTCP_REGION_NORESERVE), 'noreserve'],
];

const MAGIC = String(DMTCP_IMAGE_MAGIC);
const VERSION = Number(DMTCP_IMAGE_VERSION);
const HEADER_SIZE = Number(DMTCP_IMAGE_HEADER_SIZE);
const PAGE_SIZE = Number(DMTCP_PAGE_SIZE);

// ---------------------------------------------------------------------------
// FNV-1a 64, as the runtime computes it. Done on two 32-bit halves: a BigInt
// per byte would make checking large tables needlessly slow.

export function fnv1a64(bytes: Uint8Array): bigint {
  let lo = 0x84222325;
  let hi = 0xcbf29ce4;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ (bytes[i] as number)) >>> 0;
    // prime = 2^40 + 0x1b3: h*prime = h*0x1b3 + (h << 40)
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    hi = (hi * 0x1b3 + ((lo << 8) >>> 0) + carry) >>> 0;
    lo = loMul >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

// ---------------------------------------------------------------------------
// Types

/** The fixed header, field names as in struct dmtcp_image_header. */
export interface ImageHeader {
  magic: string;
  version: number;
  header_size: number;
  image_size: number;
  regions_offset: number;
  num_regions: number;
  region_size: number;
  runs_offset: number;
  num_runs: number;
  run_size: number;
  strings_offset: number;
  strings_len: number;
  meta_offset: number;
  meta_len: number;
  data_offset: number;
  data_len: number;
  /** 0x-prefixed hex */
  restore_entry: string;
  generation: number;
  /** 16 hex digits, as in the metadata */
  comp_id: string;
  /** 16 hex digits, as in the metadata */
  upid: string;
  num_peers: number;
  pid: number;
  /** nanoseconds since the epoch, decimal (does not fit a double) */
  ckpt_time_ns: string;
  /** 16 hex digits */
  tables_checksum: string;
  /** 16 hex digits */
  header_checksum: string;
}

export type ThreadKind = 'main' | 'user' | 'ckpt';

export interface ImageThread {
  tid: number;
  kind: ThreadKind | (string & {});
  [extra: string]: unknown;
}

export interface ImageMetaRegion {
  /** 0x-prefixed hex */
  start: string;
  /** 0x-prefixed hex */
  end: string;
  /** like /proc/PID/maps: "rw-p" */
  prot: string;
  /** "" for anonymous memory */
  path: string;
  flags: string[];
  saved_bytes: number;
  [extra: string]: unknown;
}

export interface ImageMetaFile {
  path: string;
  size: number;
  /** decimal nanoseconds */
  mtime_ns: string;
  ino: number;
  [extra: string]: unknown;
}

/** An interval timer (setitimer; alarm is ITIMER_REAL) at checkpoint; 0/0 when disarmed. */
export interface ImageItimer {
  /** time left until the next expiration */
  value_us: number;
  /** period; 0 for a one-shot timer */
  interval_us: number;
}

export interface ImageItimers {
  real: ImageItimer;
  virtual: ImageItimer;
  prof: ImageItimer;
}

export const ITIMER_NAMES = ['real', 'virtual', 'prof'] as const;

/** A signal that was pending at checkpoint, in the order the kernel would deliver it within its queue. */
export interface ImagePendingSignal {
  sig: number;
  /** the thread whose own queue held it; 0 for the process's queue */
  tid: number;
  /** si_code: 0 SI_USER, -1 SI_QUEUE, -6 SI_TKILL, > 0 from the kernel */
  code: number;
  pid: number;
  uid: number;
  /** si_value.sival_int for SI_QUEUE, else 0 */
  value: number;
  [extra: string]: unknown;
}

/** CLOCK_MONOTONIC and CLOCK_BOOTTIME at checkpoint as the program read them (ns, decimal strings), the
 *  time namespace offsets they were read under (the program's view minus the host's) and the boot. */
export interface ImageClocks {
  boot_id: string;
  monotonic_ns: string;
  boottime_ns: string;
  monotonic_offset_ns: string;
  boottime_offset_ns: string;
}

/** The JSON metadata the runtime writes; unknown fields are kept. */
export interface ImageMeta {
  version: number;
  host: string;
  pid: number;
  ppid: number;
  /** Process group and session at checkpoint (real ids); 0 when unknown. */
  pgid: number;
  sid: number;
  upid: string;
  comp_id: string;
  generation: number;
  num_peers: number;
  prog: string;
  exe: string;
  argv: string[];
  cwd: string;
  ckpt_time_ns: string;
  /** null in images written before clocks were noted */
  clocks: ImageClocks | null;
  /** all disarmed in images written before timers were saved */
  itimers: ImageItimers;
  pending_signals: ImagePendingSignal[];
  threads: ImageThread[];
  regions: ImageMetaRegion[];
  files: ImageMetaFile[];
  [extra: string]: unknown;
}

/** One record of the binary region table. */
export interface ImageRegion {
  start: string;
  end: string;
  size: number;
  file_offset: number;
  file_size: number;
  file_mtime_ns: string;
  file_ino: number;
  prot: number;
  flags: number;
  flag_names: string[];
  first_run: number;
  num_runs: number;
  path: string;
  /** bytes of page data stored for this region (sum of its runs) */
  saved_bytes: number;
}

export interface CheckpointImage {
  /** absolute path of the file read */
  path: string;
  header: ImageHeader;
  meta: ImageMeta;
  regions: ImageRegion[];
}

export type ImageErrorKind = 'missing' | 'unreadable' | 'foreign' | 'version' | 'truncated' | 'corrupt';

/** Anything wrong with an image file. The message is one line naming the file. */
export class ImageError extends Error {
  readonly file: string;
  readonly kind: ImageErrorKind;
  constructor(file: string, kind: ImageErrorKind, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ImageError';
    this.file = file;
    this.kind = kind;
  }
}

// ---------------------------------------------------------------------------
// Reading

const hex16 = (v: bigint): string => v.toString(16).padStart(16, '0');

class Fields {
  constructor(
    private readonly buf: Buffer,
    private readonly file: string,
    private readonly base = 0,
  ) {}

  u32(f: FieldSpec): number {
    return this.buf.readUInt32LE(this.base + f.offset);
  }

  u64(f: FieldSpec): bigint {
    return this.buf.readBigUInt64LE(this.base + f.offset);
  }

  /** A u64 used as a size or offset: anything above 2^53 is nonsense here. */
  num(f: FieldSpec, name: string): number {
    const v = this.u64(f);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ImageError(this.file, 'corrupt', `corrupt image (${name} is out of range: ${v})`);
    }
    return Number(v);
  }
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

function ioError(file: string, err: unknown): ImageError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new ImageError(file, 'missing', 'no such file');
    case 'EACCES':
    case 'EPERM':
      return new ImageError(file, 'unreadable', 'cannot read the image (permission denied)');
    case 'EISDIR':
      return new ImageError(file, 'unreadable', 'is a directory, not an image');
    case 'ENOTDIR':
      return new ImageError(file, 'missing', 'no such file (a parent is not a directory)');
    default: {
      const why = err instanceof Error ? err.message : String(err);
      return new ImageError(file, 'unreadable', `cannot read the image (${why})`);
    }
  }
}

function parseHeader(buf: Buffer, file: string): ImageHeader {
  const f = new Fields(buf, file);
  const H = HEADER_FIELDS;
  return {
    magic: buf.toString('latin1', H.magic.offset, H.magic.offset + H.magic.size),
    version: f.u32(H.version),
    header_size: f.u32(H.header_size),
    image_size: f.num(H.image_size, 'image_size'),
    regions_offset: f.num(H.regions_offset, 'regions_offset'),
    num_regions: f.u32(H.num_regions),
    region_size: f.u32(H.region_size),
    runs_offset: f.num(H.runs_offset, 'runs_offset'),
    num_runs: f.u32(H.num_runs),
    run_size: f.u32(H.run_size),
    strings_offset: f.num(H.strings_offset, 'strings_offset'),
    strings_len: f.num(H.strings_len, 'strings_len'),
    meta_offset: f.num(H.meta_offset, 'meta_offset'),
    meta_len: f.num(H.meta_len, 'meta_len'),
    data_offset: f.num(H.data_offset, 'data_offset'),
    data_len: f.num(H.data_len, 'data_len'),
    restore_entry: '0x' + f.u64(H.restore_entry).toString(16),
    generation: f.num(H.generation, 'generation'),
    comp_id: hex16(f.u64(H.comp_id)),
    upid: hex16(f.u64(H.upid)),
    num_peers: f.u32(H.num_peers),
    pid: f.u32(H.pid),
    ckpt_time_ns: f.u64(H.ckpt_time_ns).toString(10),
    tables_checksum: hex16(f.u64(H.tables_checksum)),
    header_checksum: hex16(f.u64(H.header_checksum)),
  };
}

function corrupt(file: string, problem: string): ImageError {
  return new ImageError(file, 'corrupt', `corrupt image (${problem})`);
}

/** Checks that [offset, offset+len) lies inside the tables area. */
function checkSpan(file: string, name: string, offset: number, len: number, lo: number, hi: number): void {
  if (len === 0) return;
  if (offset < lo || offset + len > hi) {
    throw corrupt(file, `${name} [${offset}, ${offset + len}) lies outside the tables [${lo}, ${hi})`);
  }
}

function flagNames(flags: number): string[] {
  return REGION_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

function parseTables(h: ImageHeader, tables: Buffer, file: string): ImageRegion[] {
  const base = h.regions_offset;
  const stringsStart = h.strings_offset - base;
  const readPath = (off: number): string => {
    if (off === NO_PATH) return '';
    if (off >= h.strings_len) throw corrupt(file, `region path offset ${off} beyond the string table`);
    const from = stringsStart + off;
    const nul = tables.indexOf(0, from);
    const to = nul < 0 || nul >= stringsStart + h.strings_len ? stringsStart + h.strings_len : nul;
    return tables.toString('utf8', from, to);
  };

  const runs: Array<{ addr: bigint; len: number; data_offset: number }> = [];
  for (let i = 0; i < h.num_runs; i++) {
    const f = new Fields(tables, file, h.runs_offset - base + i * RUN_STRUCT_SIZE);
    const run = {
      addr: f.u64(RUN_FIELDS.addr),
      len: f.num(RUN_FIELDS.len, `run ${i} length`),
      data_offset: f.num(RUN_FIELDS.data_offset, `run ${i} data offset`),
    };
    if (run.data_offset % PAGE_SIZE !== 0) throw corrupt(file, `run ${i} data is not page-aligned`);
    if (run.data_offset < h.data_offset || run.data_offset + run.len > h.image_size) {
      throw corrupt(file, `run ${i} data [${run.data_offset}, ${run.data_offset + run.len}) lies outside the data area`);
    }
    runs.push(run);
  }

  const regions: ImageRegion[] = [];
  for (let i = 0; i < h.num_regions; i++) {
    const f = new Fields(tables, file, h.regions_offset - base + i * REGION_STRUCT_SIZE);
    const start = f.u64(REGION_FIELDS.start);
    const end = f.u64(REGION_FIELDS.end);
    if (end <= start) throw corrupt(file, `region ${i} ends before it starts`);
    const firstRun = f.u32(REGION_FIELDS.first_run);
    const numRuns = f.u32(REGION_FIELDS.num_runs);
    if (firstRun + numRuns > h.num_runs) throw corrupt(file, `region ${i} refers to runs beyond the run table`);
    let saved = 0;
    for (let r = firstRun; r < firstRun + numRuns; r++) {
      const run = runs[r] as (typeof runs)[number];
      if (run.addr < start || run.addr + BigInt(run.len) > end) {
        throw corrupt(file, `run ${r} lies outside its region ${i}`);
      }
      saved += run.len;
    }
    const flags = f.u32(REGION_FIELDS.flags);
    regions.push({
      start: '0x' + start.toString(16),
      end: '0x' + end.toString(16),
      size: Number(end - start),
      file_offset: f.num(REGION_FIELDS.file_offset, `region ${i} file offset`),
      file_size: f.num(REGION_FIELDS.file_size, `region ${i} file size`),
      file_mtime_ns: f.u64(REGION_FIELDS.file_mtime_ns).toString(10),
      file_ino: f.num(REGION_FIELDS.file_ino, `region ${i} inode`),
      prot: f.u32(REGION_FIELDS.prot),
      flags,
      flag_names: flagNames(flags),
      first_run: firstRun,
      num_runs: numRuns,
      path: readPath(f.u32(REGION_FIELDS.path_offset)),
      saved_bytes: saved,
    });
  }
  return regions;
}

// Metadata: the runtime's JSON, checked field by field so that the CLI never
// prints `undefined`; missing fields fall back to the header's values.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class MetaChecker {
  constructor(private readonly file: string) {}

  fail(what: string): never {
    throw corrupt(this.file, `metadata ${what}`);
  }

  str(o: Record<string, unknown>, key: string, where: string, dflt: string): string {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v !== 'string') this.fail(`field ${where}${key} is not a string`);
    return v;
  }

  /** Like int() but negative numbers are fine (si_code). */
  signedInt(o: Record<string, unknown>, key: string, where: string, dflt: number): number {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(`field ${where}${key} is not an integer`);
    return v;
  }

  int(o: Record<string, unknown>, key: string, where: string, dflt: number): number {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`field ${where}${key} is not a number`);
    return v;
  }

  arr(o: Record<string, unknown>, key: string): unknown[] {
    const v = o[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(`field ${key} is not an array`);
    return v;
  }

  obj(v: unknown, where: string): Record<string, unknown> {
    if (!isObject(v)) this.fail(`${where} is not an object`);
    return v;
  }
}

export function parseImageMeta(text: string, header: ImageHeader, file: string): ImageMeta {
  let raw: Json;
  try {
    raw = JSON.parse(text) as Json;
  } catch (err) {
    throw corrupt(file, `metadata is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const c = new MetaChecker(file);
  const o = c.obj(raw, 'root');
  const argv = c.arr(o, 'argv').map((a, i) => (typeof a === 'string' ? a : c.fail(`argv[${i}] is not a string`)));
  const threads = c.arr(o, 'threads').map((t, i): ImageThread => {
    const to = c.obj(t, `threads[${i}]`);
    return { ...to, tid: c.int(to, 'tid', `threads[${i}].`, 0), kind: c.str(to, 'kind', `threads[${i}].`, 'user') };
  });
  const regions = c.arr(o, 'regions').map((r, i): ImageMetaRegion => {
    const ro = c.obj(r, `regions[${i}]`);
    const where = `regions[${i}].`;
    const flags = c.arr(ro, 'flags').map((x, j) => (typeof x === 'string' ? x : c.fail(`${where}flags[${j}] is not a string`)));
    return {
      ...ro,
      start: c.str(ro, 'start', where, '0x0'),
      end: c.str(ro, 'end', where, '0x0'),
      prot: c.str(ro, 'prot', where, '----'),
      path: c.str(ro, 'path', where, ''),
      flags,
      saved_bytes: c.int(ro, 'saved_bytes', where, 0),
    };
  });
  const files = c.arr(o, 'files').map((x, i): ImageMetaFile => {
    const fo = c.obj(x, `files[${i}]`);
    const where = `files[${i}].`;
    const path = c.str(fo, 'path', where, '');
    if (path === '') c.fail(`${where}path is missing`);
    return {
      ...fo,
      path,
      size: c.int(fo, 'size', where, 0),
      mtime_ns: c.str(fo, 'mtime_ns', where, '0'),
      ino: c.int(fo, 'ino', where, 0),
    };
  });
  let clocks: ImageClocks | null = null;
  if (o['clocks'] !== undefined) {
    const co = c.obj(o['clocks'], 'clocks');
    const ns = (key: string): string => {
      const v = c.str(co, key, 'clocks.', '');
      if (!/^-?\d+$/.test(v)) c.fail(`field clocks.${key} is not an integer`);
      return v;
    };
    clocks = {
      boot_id: c.str(co, 'boot_id', 'clocks.', ''),
      monotonic_ns: ns('monotonic_ns'),
      boottime_ns: ns('boottime_ns'),
      monotonic_offset_ns: ns('monotonic_offset_ns'),
      boottime_offset_ns: ns('boottime_offset_ns'),
    };
  }
  const timers = o['itimers'] === undefined ? {} : c.obj(o['itimers'], 'itimers');
  const timer = (name: (typeof ITIMER_NAMES)[number]): ImageItimer => {
    const to = timers[name] === undefined ? {} : c.obj(timers[name], `itimers.${name}`);
    const where = `itimers.${name}.`;
    return { value_us: c.int(to, 'value_us', where, 0), interval_us: c.int(to, 'interval_us', where, 0) };
  };
  const pending = c.arr(o, 'pending_signals').map((x, i): ImagePendingSignal => {
    const po = c.obj(x, `pending_signals[${i}]`);
    const where = `pending_signals[${i}].`;
    return {
      ...po,
      sig: c.int(po, 'sig', where, 0),
      tid: c.int(po, 'tid', where, 0),
      code: c.signedInt(po, 'code', where, 0),
      pid: c.signedInt(po, 'pid', where, 0),
      uid: c.int(po, 'uid', where, 0),
      value: c.signedInt(po, 'value', where, 0),
    };
  });
  return {
    ...o,
    version: c.int(o, 'version', '', 1),
    host: c.str(o, 'host', '', ''),
    pid: c.int(o, 'pid', '', header.pid),
    ppid: c.int(o, 'ppid', '', 0),
    pgid: c.int(o, 'pgid', '', 0),
    sid: c.int(o, 'sid', '', 0),
    upid: c.str(o, 'upid', '', header.upid),
    comp_id: c.str(o, 'comp_id', '', header.comp_id),
    generation: c.int(o, 'generation', '', header.generation),
    num_peers: c.int(o, 'num_peers', '', header.num_peers),
    prog: c.str(o, 'prog', '', ''),
    exe: c.str(o, 'exe', '', ''),
    argv,
    cwd: c.str(o, 'cwd', '', ''),
    ckpt_time_ns: c.str(o, 'ckpt_time_ns', '', header.ckpt_time_ns),
    clocks,
    itimers: { real: timer('real'), virtual: timer('virtual'), prof: timer('prof') },
    pending_signals: pending,
    threads,
    regions,
    files,
  };
}

/**
 * Reads and verifies an image: magic, version, header size, truncation,
 * both checksums, table bounds and the metadata. Throws ImageError.
 */
export async function readImage(file: string): Promise<CheckpointImage> {
  let fh: FileHandle;
  try {
    fh = await open(file, fsConstants.O_RDONLY);
  } catch (err) {
    throw ioError(file, err);
  }
  try {
    let size: number;
    let head: Buffer;
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      size = st.size;
      head = await readExactly(fh, HEADER_SIZE, 0);
    } catch (err) {
      throw err instanceof ImageError ? err : ioError(file, err);
    }

    const magicField = HEADER_FIELDS.magic;
    const magic = head.toString('latin1', magicField.offset, Math.min(head.length, magicField.offset + magicField.size));
    if (magic !== MAGIC) {
      throw new ImageError(file, 'foreign', size === 0 ? 'not a checkpoint image (empty file)' : 'not a checkpoint image (bad magic)');
    }
    if (head.length < HEADER_SIZE) {
      const sizeField = HEADER_FIELDS.image_size;
      const expected = head.length >= sizeField.offset + sizeField.size ? head.readBigUInt64LE(sizeField.offset) : BigInt(HEADER_SIZE);
      throw new ImageError(file, 'truncated', `truncated image (expected ${expected} bytes, found ${size})`);
    }
    const version = head.readUInt32LE(HEADER_FIELDS.version.offset);
    if (version !== VERSION) {
      throw new ImageError(file, 'version', `unsupported image version ${version} (this dmtcp reads version ${VERSION})`);
    }
    const headerSize = head.readUInt32LE(HEADER_FIELDS.header_size.offset);
    if (headerSize !== HEADER_SIZE) throw corrupt(file, `header size ${headerSize}, expected ${HEADER_SIZE}`);

    const storedHeaderSum = head.readBigUInt64LE(HEADER_FIELDS.header_checksum.offset);
    if (fnv1a64(head.subarray(0, HEADER_FIELDS.header_checksum.offset)) !== storedHeaderSum) {
      throw corrupt(file, 'header checksum mismatch');
    }

    const header = parseHeader(head, file);
    if (size < header.image_size) {
      throw new ImageError(file, 'truncated', `truncated image (expected ${header.image_size} bytes, found ${size})`);
    }
    if (size > header.image_size) {
      throw corrupt(file, `size mismatch (expected ${header.image_size} bytes, found ${size})`);
    }
    if (header.region_size !== REGION_STRUCT_SIZE || header.run_size !== RUN_STRUCT_SIZE) {
      throw corrupt(file, `record sizes ${header.region_size}/${header.run_size}, expected ${REGION_STRUCT_SIZE}/${RUN_STRUCT_SIZE}`);
    }

    const lo = header.regions_offset;
    const hi = header.data_offset;
    if (lo < HEADER_SIZE || hi < lo || hi > header.image_size) {
      throw corrupt(file, `tables [${lo}, ${hi}) lie outside the file`);
    }
    if (hi % PAGE_SIZE !== 0) throw corrupt(file, 'data area is not page-aligned');
    if (hi + header.data_len > header.image_size) throw corrupt(file, 'data area runs past the end of the file');
    checkSpan(file, 'region table', header.regions_offset, header.num_regions * REGION_STRUCT_SIZE, lo, hi);
    checkSpan(file, 'run table', header.runs_offset, header.num_runs * RUN_STRUCT_SIZE, lo, hi);
    checkSpan(file, 'string table', header.strings_offset, header.strings_len, lo, hi);
    checkSpan(file, 'metadata', header.meta_offset, header.meta_len, lo, hi);
    if (header.meta_len === 0) throw corrupt(file, 'no metadata');

    let tables: Buffer;
    try {
      tables = await readExactly(fh, hi - lo, lo);
    } catch (err) {
      throw ioError(file, err);
    }
    if (tables.length !== hi - lo) {
      throw new ImageError(file, 'truncated', `truncated image (expected ${header.image_size} bytes, found ${lo + tables.length})`);
    }
    if (fnv1a64(tables).toString(16).padStart(16, '0') !== header.tables_checksum) {
      throw corrupt(file, 'tables checksum mismatch');
    }

    const regions = parseTables(header, tables, file);
    const metaText = tables.toString('utf8', header.meta_offset - lo, header.meta_offset - lo + header.meta_len);
    const meta = parseImageMeta(metaText.replace(/\0+$/, ''), header, file);
    return { path: resolvePath(file), header, meta, regions };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Problems with the files the process had mapped: each one vanished or
 * changed (size or modification time) since the checkpoint. Empty when all
 * are as they were.
 */
export async function checkImageFiles(meta: Pick<ImageMeta, 'files'>): Promise<string[]> {
  const problems: string[] = [];
  for (const f of meta.files) {
    let st: Awaited<ReturnType<typeof statBig>>;
    try {
      st = await statBig(f.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(
        code === 'ENOENT' || code === 'ENOTDIR'
          ? `${f.path} no longer exists (it was mapped at the checkpoint)`
          : `${f.path} cannot be checked (${code ?? String(err)})`,
      );
      continue;
    }
    if (BigInt(f.size) !== st.size) {
      problems.push(`${f.path} changed since the checkpoint (size ${f.size} -> ${st.size})`);
    } else if (/^\d+$/.test(f.mtime_ns) && BigInt(f.mtime_ns) !== st.mtimeNs) {
      problems.push(
        `${f.path} changed since the checkpoint (modified ${formatNs(BigInt(f.mtime_ns))} -> ${formatNs(st.mtimeNs)})`,
      );
    }
  }
  return problems;
}

function statBig(p: string) {
  return stat(p, { bigint: true });
}

/** ISO time with the nanoseconds that Date cannot hold. */
export function formatNs(ns: bigint | string): string {
  const v = typeof ns === 'bigint' ? ns : /^\d+$/.test(ns) ? BigInt(ns) : 0n;
  const ms = v / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // 2024-01-02T03:04:05.678Z
  const frac = (v % 1_000_000_000n).toString().padStart(9, '0');
  return iso.replace(/\.\d{3}Z$/, `.${frac}Z`);
}
