// Builds small but well-formed checkpoint images in memory, so that the reader
// and the CLI can be tested against good, truncated and corrupted files
// without a runtime that writes real ones.
import {
  HEADER_FIELDS,
  HEADER_STRUCT_SIZE,
  NO_PATH,
  REGION_FIELDS,
  REGION_STRUCT_SIZE,
  RUN_FIELDS,
  RUN_STRUCT_SIZE,
  fnv1a64,
} from '../src/image/reader.ts';
import type { FieldSpec } from '../src/image/reader.ts';

export interface SyntheticRegion {
  start: bigint;
  end: bigint;
  /** pages of data stored from the region start */
  pages?: number;
  path?: string;
  prot?: number;
  flags?: number;
}

export interface SyntheticImageOptions {
  compId?: bigint;
  upid?: bigint;
  generation?: number;
  pid?: number;
  numPeers?: number;
  ckptTimeNs?: bigint;
  version?: number;
  regions?: SyntheticRegion[];
  /** merged over the default metadata */
  meta?: Record<string, unknown>;
  /** used verbatim instead of JSON.stringify(meta) */
  metaText?: string;
}

const PAGE = 4096;
const align = (n: number): number => Math.ceil(n / PAGE) * PAGE;

function put(buf: Buffer, base: number, f: FieldSpec, v: number | bigint): void {
  if (f.size === 4) buf.writeUInt32LE(Number(v), base + f.offset);
  else buf.writeBigUInt64LE(BigInt(v), base + f.offset);
}

export function defaultRegions(): SyntheticRegion[] {
  return [
    { start: 0x555555554000n, end: 0x555555556000n, pages: 2, path: '/usr/bin/counter', prot: 5, flags: 0x2 },
    { start: 0x555555600000n, end: 0x555555621000n, pages: 1, path: '', prot: 3, flags: 0x8 },
    { start: 0x7ffffffde000n, end: 0x7ffffffff000n, pages: 3, path: '', prot: 3, flags: 0x4 },
  ];
}

export function buildImage(opts: SyntheticImageOptions = {}): Buffer {
  const compId = opts.compId ?? 0x1234abcd5678ef00n;
  const upid = opts.upid ?? 0x00000000deadbeefn;
  const generation = opts.generation ?? 3;
  const pid = opts.pid ?? 4242;
  const regions = opts.regions ?? defaultRegions();

  let strings = Buffer.alloc(0);
  const pathOffsets = regions.map((r) => {
    if (!r.path) return NO_PATH;
    const off = strings.length;
    strings = Buffer.concat([strings, Buffer.from(r.path + '\0')]);
    return off;
  });

  const meta = {
    version: 1,
    host: 'testhost',
    pid,
    ppid: 1,
    upid: upid.toString(16).padStart(16, '0'),
    comp_id: compId.toString(16).padStart(16, '0'),
    generation,
    num_peers: opts.numPeers ?? 1,
    prog: 'counter',
    exe: '/usr/bin/counter',
    argv: ['counter', '--steps', '10'],
    cwd: '/tmp',
    ckpt_time_ns: (opts.ckptTimeNs ?? 1700000000123456789n).toString(),
    threads: [
      { tid: pid, kind: 'main' },
      { tid: pid + 1, kind: 'ckpt' },
    ],
    regions: regions.map((r) => ({
      start: '0x' + r.start.toString(16),
      end: '0x' + r.end.toString(16),
      prot: (r.prot ?? 3) === 5 ? 'r-xp' : 'rw-p',
      path: r.path ?? '',
      flags: r.path ? ['file'] : [],
      saved_bytes: (r.pages ?? 0) * PAGE,
    })),
    files: [],
    ...opts.meta,
  };
  const metaBuf = Buffer.from(opts.metaText ?? JSON.stringify(meta));

  const numRuns = regions.filter((r) => (r.pages ?? 0) > 0).length;
  const regionsOffset = HEADER_STRUCT_SIZE;
  const runsOffset = regionsOffset + regions.length * REGION_STRUCT_SIZE;
  const stringsOffset = runsOffset + numRuns * RUN_STRUCT_SIZE;
  const metaOffset = stringsOffset + strings.length;
  const dataOffset = align(metaOffset + metaBuf.length);
  const dataLen = regions.reduce((n, r) => n + (r.pages ?? 0) * PAGE, 0);
  const imageSize = dataOffset + dataLen;

  const img = Buffer.alloc(imageSize);
  let run = 0;
  let dataPos = dataOffset;
  regions.forEach((r, i) => {
    const base = regionsOffset + i * REGION_STRUCT_SIZE;
    put(img, base, REGION_FIELDS.start, r.start);
    put(img, base, REGION_FIELDS.end, r.end);
    put(img, base, REGION_FIELDS.prot, r.prot ?? 3);
    put(img, base, REGION_FIELDS.flags, r.flags ?? 0);
    put(img, base, REGION_FIELDS.path_offset, pathOffsets[i] as number);
    const pages = r.pages ?? 0;
    put(img, base, REGION_FIELDS.first_run, run);
    put(img, base, REGION_FIELDS.num_runs, pages > 0 ? 1 : 0);
    if (pages > 0) {
      const rb = runsOffset + run * RUN_STRUCT_SIZE;
      put(img, rb, RUN_FIELDS.addr, r.start);
      put(img, rb, RUN_FIELDS.len, pages * PAGE);
      put(img, rb, RUN_FIELDS.data_offset, dataPos);
      img.fill(0x40 + i, dataPos, dataPos + pages * PAGE);
      dataPos += pages * PAGE;
      run++;
    }
  });
  strings.copy(img, stringsOffset);
  metaBuf.copy(img, metaOffset);

  const H = HEADER_FIELDS;
  img.write('DMTCPIMG', H.magic.offset, 'latin1');
  put(img, 0, H.version, opts.version ?? 1);
  put(img, 0, H.header_size, HEADER_STRUCT_SIZE);
  put(img, 0, H.image_size, imageSize);
  put(img, 0, H.regions_offset, regionsOffset);
  put(img, 0, H.num_regions, regions.length);
  put(img, 0, H.region_size, REGION_STRUCT_SIZE);
  put(img, 0, H.runs_offset, runsOffset);
  put(img, 0, H.num_runs, numRuns);
  put(img, 0, H.run_size, RUN_STRUCT_SIZE);
  put(img, 0, H.strings_offset, stringsOffset);
  put(img, 0, H.strings_len, strings.length);
  put(img, 0, H.meta_offset, metaOffset);
  put(img, 0, H.meta_len, metaBuf.length);
  put(img, 0, H.data_offset, dataOffset);
  put(img, 0, H.data_len, dataLen);
  put(img, 0, H.restore_entry, 0x7ffff7fc1234n);
  put(img, 0, H.generation, generation);
  put(img, 0, H.comp_id, compId);
  put(img, 0, H.upid, upid);
  put(img, 0, H.num_peers, opts.numPeers ?? 1);
  put(img, 0, H.pid, pid);
  put(img, 0, H.ckpt_time_ns, opts.ckptTimeNs ?? 1700000000123456789n);
  resealImage(img);
  return img;
}

/** Recomputes both checksums after a deliberate edit. */
export function resealImage(img: Buffer): Buffer {
  const H = HEADER_FIELDS;
  const lo = Number(img.readBigUInt64LE(H.regions_offset.offset));
  const hi = Number(img.readBigUInt64LE(H.data_offset.offset));
  put(img, 0, H.tables_checksum, fnv1a64(img.subarray(lo, hi)));
  put(img, 0, H.header_checksum, fnv1a64(img.subarray(0, H.header_checksum.offset)));
  return img;
}
