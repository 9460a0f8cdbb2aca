import { describe, expect, it } from 'vitest';
import {
  COMMON_OPTIONS,
  UsageError,
  coordAddress,
  formatAddress,
  parseArgs,
  parseInterval,
  parsePort,
} from '../src/cli/args.ts';

const defs = {
  checkpoint: { type: 'boolean', short: 'c' },
  status: { type: 'boolean', short: 's' },
  interval: { type: 'string', short: 'i' },
  'with-plugin': { type: 'string', multiple: true },
  ...COMMON_OPTIONS,
} as const;

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no usage error');
}

describe('parseArgs', () => {
  it('reads long options with separate and attached values', () => {
    const r = parseArgs(['--coord-port', '7000', '--coord-host=h1', '--checkpoint', 'x'], defs);
    expect(r.values).toEqual({ 'coord-port': '7000', 'coord-host': 'h1', checkpoint: true });
    expect(r.positionals).toEqual(['x']);
  });

  it('reads short options, grouped booleans and attached values', () => {
    expect(parseArgs(['-cs'], defs).values).toEqual({ checkpoint: true, status: true });
    expect(parseArgs(['-i5'], defs).values).toEqual({ interval: '5' });
    expect(parseArgs(['-i', '5'], defs).values).toEqual({ interval: '5' });
    expect(parseArgs(['-ci', '7'], defs).values).toEqual({ checkpoint: true, interval: '7' });
    expect(parseArgs(['-h'], defs).values).toEqual({ help: true });
  });

  it('collects repeated options marked multiple and keeps the last otherwise', () => {
    const r = parseArgs(['--with-plugin', 'a.so', '--with-plugin=b.so:c.so', '-i', '1', '-i', '2'], defs);
    expect(r.values['with-plugin']).toEqual(['a.so', 'b.so:c.so']);
    expect(r.values.interval).toBe('2');
  });

  it('treats everything after -- as positional', () => {
    expect(parseArgs(['--', '-c', '--status'], defs).positionals).toEqual(['-c', '--status']);
    expect(parseArgs(['-'], defs).positionals).toEqual(['-']);
  });

  it('stops at the first positional when asked, leaving the program its options', () => {
    const r = parseArgs(['--interval', '3', 'prog', '--interval', '9', '-c', '--', 'x'], defs, { stopAtPositional: true });
    expect(r.values).toEqual({ interval: '3' });
    expect(r.positionals).toEqual(['prog', '--interval', '9', '-c', '--', 'x']);
  });

  it('interleaves positionals with options otherwise', () => {
    expect(parseArgs(['a', '-c', 'b'], defs)).toEqual({ values: { checkpoint: true }, positionals: ['a', 'b'] });
  });

  it('rejects unknown options, missing values and values on flags', () => {
    expect(usage(() => parseArgs(['--nope'], defs))).toBe('unknown option --nope');
    expect(usage(() => parseArgs(['-x'], defs))).toBe('unknown option -x');
    expect(usage(() => parseArgs(['--interval'], defs))).toBe('option --interval needs a value');
    expect(usage(() => parseArgs(['-i'], defs))).toBe('option -i needs a value');
    expect(usage(() => parseArgs(['--checkpoint=yes'], defs))).toBe('option --checkpoint takes no value');
  });
});

describe('ports, intervals and the coordinator address', () => {
  it('parses ports', () => {
    expect(parsePort('7779', 'x')).toBe(7779);
    expect(parsePort('0', 'x', true)).toBe(0);
    expect(usage(() => parsePort('0', '--coord-port'))).toMatch(/invalid port "0" \(--coord-port\)/);
    expect(usage(() => parsePort('65536', 'x'))).toMatch(/invalid port/);
    expect(usage(() => parsePort('12ab', 'x'))).toMatch(/invalid port/);
    expect(usage(() => parsePort('-1', 'x'))).toMatch(/invalid port/);
  });

  it('parses intervals', () => {
    expect(parseInterval('0', 'x')).toBe(0);
    expect(parseInterval('2.5', 'x')).toBe(2.5);
    expect(usage(() => parseInterval('-3', '--interval'))).toMatch(/invalid interval/);
    expect(usage(() => parseInterval('soon', '--interval'))).toMatch(/invalid interval/);
  });

  it('prefers flags over the environment over the defaults', () => {
    expect(coordAddress({}, {})).toEqual({ host: 'localhost', port: 7779, hostGiven: false, hostFromFlag: false });
    const env = { DMTCP_COORD_HOST: 'envhost', DMTCP_COORD_PORT: '7100' };
    expect(coordAddress({}, env)).toMatchObject({ host: 'envhost', port: 7100, hostGiven: true, hostFromFlag: false });
    expect(coordAddress({ 'coord-host': 'flaghost', 'coord-port': '7200' }, env)).toMatchObject({
      host: 'flaghost',
      port: 7200,
      hostFromFlag: true,
    });
    expect(coordAddress({}, { DMTCP_COORD_PORT: '' })).toMatchObject({ port: 7779 });
    expect(usage(() => coordAddress({}, { DMTCP_COORD_PORT: 'abc' }))).toMatch(/DMTCP_COORD_PORT/);
  });

  it('formats addresses', () => {
    expect(formatAddress('localhost', 7779)).toBe('localhost:7779');
    expect(formatAddress('::1', 7779)).toBe('[::1]:7779');
  });
});
