#!/usr/bin/env -S node --max-semi-space-size=8 --no-memory-reducer
/**
 * @module bin
 * The `webex-cdr-kafka` executable (package.json "bin": dist/bin.js): checks
 * the Node version it runs on, then loads the CLI (cli.ts). The CLI is
 * imported only after the check: its modules would fail to load on an older
 * Node before any check could run (Node 20's node:zlib has no zstdCompress:
 * a raw SyntaxError). On a Node that is too old: one line on stderr saying
 * which version is needed and how to get it, exit code 2.
 *
 * The shebang carries only V8 flags, which every Node accepts (a Node option
 * such as --disable-warning makes Node before 20.11 refuse to start with
 * "bad option"); the Dockerfile's ENTRYPOINT repeats them. The CLI filters
 * kafkajs' TimeoutNegativeWarning itself.
 */
import { nodeVersionProblem } from './node-version.ts';

const problem = nodeVersionProblem(process.versions.node, process.execPath);
if (problem === undefined) {
  await import('./cli.ts');
} else {
  console.error(problem);
  process.exitCode = 2;
}
