// Helpers for end-to-end tests of dmtcp and its plugins: compile fixtures,
// start coordinators, launch/checkpoint/kill/restart real processes, and wait
// on their output with timeouts that explain what was going on.
//
// Call cleanup() from afterEach: it kills every process and coordinator the
// test started and removes its tmp dirs.
//
//   afterEach(cleanup);
//   test('counter', async () => {
//     const exe = await compileFixture(coreFixture('counter.c'));
//     const coord = await startCoordinator();          // port 0: tests may run in parallel
//     let proc = launch(exe, [], coord);
//     await proc.waitForLine(/^count 5$/);
//     const { images } = await checkpointImages(coord); // the images this checkpoint wrote
//     await kill9(proc);
//     proc = restart(images, coord);
//     await proc.waitForLine(/^count \d+$/);
//   });
//
// Targets run as root by default; pass { user: 'nobody' } to launch/restart
// to run them unprivileged (tmp dirs are world-writable for that reason).
import { killAll } from './proc.ts';
import { removeTmpDirs } from './paths.ts';

export { Proc, liveProcs, killAll, formatStatus } from './proc.ts';
export type { ExitStatus, LineMatch, WaitOptions, SpawnOptions } from './proc.ts';
export { compileFixture, fixtureBuildDir } from './compile.ts';
export { corePackageRoot, cliPath, cliArgv, coreFixture, makeTmpDir } from './paths.ts';
export { NOBODY, userArgv, effectiveUid, resolveUser } from './user.ts';
export type { RunAs, UserIds } from './user.ts';
export {
  childEnv, startCli, runCli, parseJsonOutput, startCoordinator, launch, restart, command, checkpoint,
  checkpointImages, status, waitForProcesses, descendants, kill9, images, inspectImage, IMAGE_RE,
} from './dmtcp.ts';
export type {
  Json, JsonObject, CoordinatorRef, Coordinator, CliOptions, CliResult, StartCoordinatorOptions,
  LaunchOptions, RestartOptions, StatusReply, CheckpointResult,
} from './dmtcp.ts';
export { sequenceValues, assertConsecutive, waitForValueAbove, checkpointKillRestart } from './sequence.ts';
export type { CycleResult, CycleOptions } from './sequence.ts';

/** Kill everything the test started (targets, restarts, coordinators, CLI runs) and remove its tmp dirs. */
export async function cleanup(): Promise<void> {
  await killAll();
  await removeTmpDirs();
}
