import { describe, expect, test } from 'vitest';
import {
  DEFAULT_MISSING_POLICY, MISSING_CALL, MissingPolicyError, MissingRecordError, decideMissing, decodeMissingRequest,
  missingCall, parseMissingPolicy, type MissingFile,
} from '../src/missing.ts';
import plugin from '../src/coordinator.ts';

const file = (descs: string, saved = false, fd = 3): MissingFile => ({
  fd,
  saved,
  descriptions: descs.split(',').map((d) => ({ mode: d[0] as 'r' | 'w' | 'b' | '-', created: d[1] === '1' })),
});

describe('parseMissingPolicy', () => {
  test('unset and empty are the default, auto', () => {
    expect(DEFAULT_MISSING_POLICY).toBe('auto');
    expect(parseMissingPolicy(undefined)).toBe('auto');
    expect(parseMissingPolicy('')).toBe('auto');
  });
  test.each(['auto', 'error', 'create'] as const)('%s', (p) => expect(parseMissingPolicy(p)).toBe(p));
  test.each(['Create', 'yes', ' create', 'create '])('refuses %j', (v) => {
    expect(() => parseMissingPolicy(v)).toThrow(MissingPolicyError);
  });
});

describe('decideMissing', () => {
  test('auto: recreates what the program opened with O_CREAT for writing', () => {
    expect(decideMissing('auto', file('w1'))).toBe('recreate');
    expect(decideMissing('auto', file('b1'))).toBe('recreate');
    // one description of the file created it: enough
    expect(decideMissing('auto', file('r0,w1'))).toBe('recreate');
    expect(decideMissing('auto', file('w1', true))).toBe('recreate');
  });
  test('auto: leaves files read only, opened without O_CREAT, or O_PATH', () => {
    expect(decideMissing('auto', file('r1'))).toBe('leave');
    expect(decideMissing('auto', file('w0'))).toBe('leave');
    expect(decideMissing('auto', file('b0,r1'))).toBe('leave');
    expect(decideMissing('auto', file('-1'))).toBe('leave');
  });
  test('error leaves everything, create makes everything', () => {
    for (const d of ['w1', 'r0', 'b1,r0']) {
      expect(decideMissing('error', file(d))).toBe('leave');
      expect(decideMissing('create', file(d))).toBe('create');
    }
  });
});

describe('the file:missing call', () => {
  test('decodes a request', () => {
    expect(decodeMissingRequest(Buffer.from('policy create\nf 3 1 w1,r0\nf 12 0 r0\n'))).toEqual({
      policy: 'create',
      files: [file('w1,r0', true, 3), file('r0', false, 12)],
    });
    expect(decodeMissingRequest(Buffer.from('policy \n'))).toEqual({ policy: '', files: [] });
  });
  test.each([
    ['no newline at the end', 'policy auto'],
    ['no policy line', 'f 3 0 w1\n'],
    ['a bad access mode', 'policy auto\nf 3 0 x1\n'],
    ['a bad created flag', 'policy auto\nf 3 0 w2\n'],
    ['a missing field', 'policy auto\nf 3 w1\n'],
    ['a negative fd', 'policy auto\nf -3 0 w1\n'],
    ['no descriptions', 'policy auto\nf 3 0 \n'],
    ['an unknown line', 'policy auto\ng 3 0 w1\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => decodeMissingRequest(Buffer.from(text))).toThrow(MissingRecordError);
  });
  test('answers one character per file, after the policy applied', () => {
    const req = Buffer.from('policy \nf 3 0 w1\nf 4 0 r1\nf 5 1 b0,w1\n');
    expect(missingCall(req).toString()).toBe('= auto\nr-r');
    expect(missingCall(Buffer.from('policy error\nf 3 0 w1\n')).toString()).toBe('= error\n-');
    expect(missingCall(Buffer.from('policy create\nf 3 0 w1\nf 4 0 r0\n')).toString()).toBe('= create\ncc');
  });
  test('an unknown policy is said once, and the default applies', () => {
    expect(missingCall(Buffer.from('policy sometimes\nf 3 0 w1\nf 4 0 r0\n')).toString()).toBe(
      '! DMTCP_FILE_MISSING=sometimes: expected auto, error, create (default auto); using auto\nr-',
    );
  });
  test('the coordinator module answers it', () => {
    const handler = plugin.calls?.[MISSING_CALL];
    expect(handler).toBeTypeOf('function');
    expect(handler?.({ payload: Buffer.from('policy auto\nf 3 0 w1\n') })?.toString()).toBe('= auto\nr');
  });
});
