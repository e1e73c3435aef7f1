/**
 * Preloaded into every test file's process (`--import` in package.json and
 * .ci/testcontainers). A file whose tests and hooks are all done but whose
 * process a leaked handle keeps alive would hang the run: this ends it
 * LINGER_MS after its last root hook started, saying on stderr which file and
 * which resources held it, with the exit code the runner set (a failure stays
 * a failure). Not `--test-force-exit`: that ends a file's process while its
 * results are still being written to the runner, which then reports fewer
 * tests than ran and still exits 0 (nodejs/node#64833; seen here: 26 to 42 of
 * settings.test.ts' 42 tests reported).
 */
import { after } from 'node:test';

/** Longer than any file's own `after` hooks take (a testcontainers stack stops in well under it). */
const LINGER_MS = Number(process.env.EXIT_GUARD_TEST_MS ?? 120_000);

// Only in a test file's own process (the runner sets NODE_TEST_CONTEXT there), not in the runner.
if (process.env.NODE_TEST_CONTEXT !== undefined) {
  after(() => {
    setTimeout(() => {
      // this guard's own timer is no longer active while it runs; PipeWraps are often the
      // process's own stdout and stderr to the runner
      const held = process.getActiveResourcesInfo();
      process.stderr.write(
        `[exit-guard] ${process.argv[1] ?? 'a test file'}: its tests ended ${LINGER_MS / 1000} s ago ` +
          `but the process is still held open by ${held.join(', ')}: a leaked handle; ending it\n`,
      );
      process.exit();
    }, LINGER_MS).unref();
  });
}
