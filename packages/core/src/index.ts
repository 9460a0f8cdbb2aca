// Programmatic API of @dmtcp/core: what the CLI is built from, for tools and
// for the plugin packages' tests.
export { startCoordinator } from './coordinator/index.ts';
export { CoordinatorUnreachableError, NotACoordinatorError, probeCoordinator, sendUserCommand } from './protocol/client.ts';
export type {
  CheckpointReply,
  IntervalReply,
  KillReply,
  ProcessStatus,
  StatusReply,
  UserCommand,
  UserReply,
} from './types.ts';
export { ImageError, checkImageFiles, readImage } from './image/reader.ts';
export type {
  CheckpointImage,
  ImageErrorKind,
  ImageHeader,
  ImageMeta,
  ImageMetaFile,
  ImageMetaRegion,
  ImageRegion,
  ImageThread,
} from './image/reader.ts';
export { packageRoot, paths } from './paths.ts';
export type { Paths } from './paths.ts';
