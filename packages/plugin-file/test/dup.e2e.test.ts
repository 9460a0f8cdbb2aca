// Descriptors made with dup/dup2/F_DUPFD share one open file description:
// after restart they share one again (offset, O_APPEND), while a separate
// open of the same file keeps its own offset; close-on-exec is per
// descriptor; /dev/null and a directory come back at their numbers.  The
// fixture checks all of it at every step.
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, makeTmpDir, startCoordinator, type RunAs } from '@dmtcp/core/testing';
import { cycle, failures, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const VARIANTS: Array<[string, NodeJS.ProcessEnv, RunAs | undefined]> = [
  ['kcmp tells descriptions apart', {}, undefined],
  // Where kcmp is forbidden (containers without CAP_SYS_PTRACE under some
  // seccomp profiles), the plugin flips a status flag on one descriptor and
  // watches the other.
  ['the status-flag probe tells descriptions apart', { DMTCP_FILE_NO_KCMP: '1' }, undefined],
  ['as an unprivileged user', {}, 'nobody'],
];

test.each(VARIANTS)('dup aliases share their offset after restart, a separate open does not: %s', async (_what, env, user) => {
  const exe = await fixture('dup.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-dup-');
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs(), env, user });
  await proc.waitForLine(/^ok 30 /);
  for (let i = 0; i < 2; i++) {
    proc = (await cycle(proc, /^ok (\d+) /, coord, { linesAfterRestart: 30, user })).proc;
    expect(failures(proc)).toEqual([]);
    // The appended log grew after the checkpoint (files are not rolled back
    // by default): one message for the file, none for its alias at fd 15.
    expect(fileMessages(proc)).toEqual([
      expect.stringMatching(new RegExp(`^dmtcp file: fd 6: ${dir}/log changed since the checkpoint \\(size \\d+ -> \\d+, modified\\); reopened as it is now$`)),
    ]);
  }
});
