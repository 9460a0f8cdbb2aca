// What libdmtcp.so takes from other libraries by name.  A plugin is loaded
// before the runtime and may define any libc function; whatever the runtime
// imports by name it may get from a plugin instead of libc.  So the runtime
// imports only what no plugin has reason to wrap (memory, strings, the
// loader, signal-set arithmetic...), and reaches the kernel through
// dmtcp/sys.h or libc through its next-function table (dmtcp/next.h).
// next-table.e2e.test.ts shows the same with a plugin that wraps the rest.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from 'vitest';
import { paths } from '../src/paths.ts';

const ALLOWED = new Set([
  // toolchain and libc internals
  '_ITM_deregisterTMCloneTable', '_ITM_registerTMCloneTable', '__cxa_finalize', '__gmon_start__', '__errno_location',
  '__environ', 'environ', '__pthread_register_cancel', '__pthread_unregister_cancel', '__pthread_unwind_next',
  '__rseq_offset', '__rseq_size', '__sigsetjmp', '__tls_get_addr', '_exit', 'on_exit',
  // memory and strings
  'malloc', 'calloc', 'free', 'memcpy', 'memset', 'strchr', 'strcmp', 'strlen', 'strncmp', 'strncpy', 'strnlen',
  'strrchr', 'strstr', 'strtol', 'strtoll', 'strerror', 'strerrordesc_np', 'sigdescr_np', 'inet_pton',
  // the environment the program was started with
  'getenv', 'unsetenv',
  // the dynamic loader
  'dlopen', 'dlclose', 'dlsym', 'dlvsym', 'dladdr1', 'dl_iterate_phdr',
  // pthread attributes and identity, signal-set arithmetic
  'pthread_attr_init', 'pthread_attr_destroy', 'pthread_attr_setdetachstate', 'pthread_self', 'sigemptyset',
  'sigfillset', 'sigaddset', 'sigdelset', 'sigismember',
]);

test('libdmtcp.so imports nothing a plugin might wrap', () => {
  expect(existsSync(paths.libdmtcp), 'build the core first').toBe(true);
  const out = execFileSync('nm', ['-D', '--undefined-only', paths.libdmtcp], { encoding: 'utf8' });
  const imported = [...new Set(out.split('\n').map((l) => l.trim().split(/\s+/).at(-1) ?? '').filter(Boolean).map((s) => s.replace(/@.*/, '')))];
  expect(imported.length).toBeGreaterThan(10);
  expect(imported.filter((s) => !ALLOWED.has(s)).sort()).toEqual([]);
});
