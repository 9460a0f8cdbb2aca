// The shared shapes live in ../types.ts, below the coordinator; this path
// stays for the modules (and plugin packages) that import them from here.
export type * from '../types.ts';
