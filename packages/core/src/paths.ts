// Locations of the files the core ships. Both src/*.ts (tests, typecheck) and
// the bundled dist/*.js sit one directory below the package root, so the same
// relative URL works from either.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot: string = fileURLToPath(new URL('..', import.meta.url));

export const paths = {
  packageRoot,
  includeDir: path.join(packageRoot, 'include'),
  libdmtcp: path.join(packageRoot, 'build', 'lib', 'libdmtcp.so'),
  restartImage: path.join(packageRoot, 'build', 'bin', 'dmtcp-restart-image'),
  cli: path.join(packageRoot, 'dist', 'cli.js'),
  addon: path.join(packageRoot, 'addon', 'build', 'Release', 'dmtcp_node.node'),
} as const;

export type Paths = typeof paths;
