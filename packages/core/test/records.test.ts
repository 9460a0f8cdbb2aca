// The JSON records of dmtcp/records.h: a C program writes them the way the
// runtime does (the runtime's own formatter, keys from the header's name
// macros) and expands every record list; the generated parsers must accept
// what it writes, describe the same fields as the C compiler sees, and refuse
// records that lack a required field or carry one of the wrong type.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DMTCP_RESUMED_RECORD, DMTCP_SUSPENDED_RECORD, DMTCP_WRITTEN_RECORD, parseDmtcpResumedRecord, parseDmtcpSuspendedRecord,
  parseDmtcpWrittenRecord, type WireField,
} from '../src/generated/constants.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const hasCc = spawnSync('cc', ['--version']).status === 0;

const LISTS: Record<string, readonly WireField[]> = {
  DMTCP_SUSPENDED_RECORD, DMTCP_WRITTEN_RECORD, DMTCP_RESUMED_RECORD,
};

// One record per line. The written ones follow written_record() in
// native/runtime/ckpt.c step for step; a path with a quote and a newline
// checks the formatter's escaping.
const PROBE = `#include <stdio.h>
#include <string.h>
#include "dmtcp/records.h"
#include "dmtcp/fmt.h"

static char buf[4096];
static struct sbuf sb;
static void done(void) { printf("%s\\n", sb_cstr(&sb)); sb_init(&sb, buf, sizeof buf); }

#define FIELD(name, type, presence) printf("%s%s %s %s", first ? "" : ",", name, #type, #presence), first = 0;
#define LIST(list) do { int first = 1; printf("%s ", #list); list(FIELD) printf("\\n"); } while (0)

int main(void) {
  LIST(DMTCP_SUSPENDED_RECORD);
  LIST(DMTCP_WRITTEN_RECORD);
  LIST(DMTCP_RESUMED_RECORD);
  sb_init(&sb, buf, sizeof buf);

  /* written, success */
  sb_puts(&sb, "{" DMTCP_JSON_KEY(DMTCP_WRITTEN_IMAGE));
  sb_json_str(&sb, "/ck/ckpt_a \\"b\\"\\n_1.dmtcp");
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_BYTES));
  sb_putu(&sb, 123456789012ull);
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_FROZEN_MS));
  sb_putu(&sb, 7);
  sb_putc(&sb, '}');
  done();

  /* written, failure with an errno */
  sb_puts(&sb, "{" DMTCP_JSON_KEY(DMTCP_WRITTEN_IMAGE));
  sb_json_str(&sb, "/ck/ckpt_a_1.dmtcp");
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_BYTES));
  sb_putu(&sb, 0);
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_FROZEN_MS));
  sb_putu(&sb, 3);
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_TMP));
  sb_json_str(&sb, "/ck/ckpt_a_1.dmtcp.tmp");
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_ERROR));
  sb_json_str(&sb, "No space left on device");
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_ERRNO));
  sb_putu(&sb, 28);
  sb_putc(&sb, '}');
  done();

  /* suspended, as fdlist.c lists descriptors, cut short */
  sb_puts(&sb, "{" DMTCP_JSON_KEY(DMTCP_SUSPENDED_IMAGE));
  sb_json_str(&sb, "ckpt_a_1.dmtcp");
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_SUSPENDED_STRICT));
  sb_puts(&sb, "true");
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_SUSPENDED_FDS) "[");
  sb_puts(&sb, "[3,\\"file\\"],[9,\\"epoll\\"]");
  sb_puts(&sb, "]," DMTCP_JSON_KEY(DMTCP_SUSPENDED_TRUNCATED) "true}");
  done();

  /* resumed after a failed rename */
  sb_puts(&sb, "{" DMTCP_JSON_KEY(DMTCP_RESUMED_ERROR));
  sb_json_str(&sb, "cannot rename ckpt_a_1.dmtcp.tmp: Input/output error");
  sb_putc(&sb, '}');
  done();
  return 0;
}
`;

describe.skipIf(!hasCc)('records written in C', () => {
  let dir = '';
  let lines: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-records-'));
    const src = path.join(dir, 'probe.c');
    const exe = path.join(dir, 'probe');
    writeFileSync(src, PROBE);
    execFileSync('cc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-I', path.join(root, 'include'),
      '-I', path.join(root, 'native', 'runtime'), '-o', exe, src], { stdio: 'pipe' });
    lines = execFileSync(exe, { encoding: 'utf8' }).trimEnd().split('\n');
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the fields the generated tables hold', () => {
    const lists = lines.slice(0, 3).map((l) => {
      const [name, body] = l.split(' ', 2) as [string, string];
      const fields = l.slice(name.length + 1).split(',').map((f) => {
        const [key, type, presence] = f.split(' ');
        return { key, type, required: presence === 'required' };
      });
      return [name, body === undefined ? [] : fields] as const;
    });
    expect(Object.fromEntries(lists)).toEqual(LISTS);
  });

  it('a written record of a good image parses', () => {
    expect(parseDmtcpWrittenRecord(lines[3] as string)).toEqual({
      ok: true, value: { image: '/ck/ckpt_a "b"\n_1.dmtcp', bytes: 123456789012, frozen_ms: 7 },
    });
  });

  it('a written record of a failed write parses, with its errno', () => {
    expect(parseDmtcpWrittenRecord(Buffer.from(lines[4] as string))).toEqual({
      ok: true,
      value: { image: '/ck/ckpt_a_1.dmtcp', bytes: 0, frozen_ms: 3, tmp: '/ck/ckpt_a_1.dmtcp.tmp', error: 'No space left on device', errno: 28 },
    });
  });

  it('the suspended and resumed records parse', () => {
    expect(parseDmtcpSuspendedRecord(lines[5] as string)).toEqual({
      ok: true, value: { image: 'ckpt_a_1.dmtcp', strict: true, fds: [[3, 'file'], [9, 'epoll']], truncated: true },
    });
    expect(parseDmtcpResumedRecord(lines[6] as string)).toEqual({ ok: true, value: { error: 'cannot rename ckpt_a_1.dmtcp.tmp: Input/output error' } });
  });

  it('the same record without a required field, or with one of the wrong type, is refused', () => {
    const good = JSON.parse(lines[4] as string) as Record<string, unknown>;
    for (const f of DMTCP_WRITTEN_RECORD) {
      const { [f.key]: _gone, ...rest } = good;
      const p = parseDmtcpWrittenRecord(JSON.stringify(rest));
      expect(p, f.key).toEqual(f.required ? { ok: false, error: `no "${f.key}"` } : { ok: true, value: expect.not.objectContaining({ [f.key]: expect.anything() }) });
      const wrong = f.type === 'string' ? 1 : 'x';
      expect(parseDmtcpWrittenRecord(JSON.stringify({ ...good, [f.key]: wrong })), f.key).toEqual({
        ok: false, error: `"${f.key}" is not a ${f.type}: ${JSON.stringify(wrong)}`,
      });
    }
    expect(parseDmtcpWrittenRecord(`${lines[3]}x`)).toEqual({ ok: false, error: 'not JSON' });
    expect(parseDmtcpWrittenRecord('null')).toEqual({ ok: false, error: 'not a JSON object' });
    expect(parseDmtcpWrittenRecord('{"image":"a","bytes":1.5,"frozen_ms":0}')).toMatchObject({ ok: false, error: /"bytes" is not a uint/ });
    expect(parseDmtcpSuspendedRecord('{"image":"a","strict":false,"fds":[[3,"file",1]]}')).toMatchObject({ ok: false, error: /"fds" is not a uint_string_pairs/ });
  });
});

describe('the runtime', () => {
  it('spells no record key itself: every one comes from a name macro of records.h', () => {
    const keys = new Set(Object.values(LISTS).flatMap((l) => l.map((f) => f.key)));
    const found: string[] = [];
    for (const f of ['ckpt.c', 'fdlist.c']) {
      const text = readFileSync(path.join(root, 'native', 'runtime', f), 'utf8');
      for (const m of text.matchAll(/\\"(\w+)\\":/g)) if (keys.has(m[1] as string)) found.push(`${f}: ${m[0]}`);
    }
    expect(found).toEqual([]);
  });
});
