/**
 * What a helper needs of the test that uses it: a place to register its own
 * cleanup. A `TestContext` (`test('...', async (t) => ...)`) is one. `onEnd(t,
 * fn)` runs `fn` once the test has ended, passed or failed, and in the reverse
 * order of registering (what started last stops first, as nested try/finally
 * blocks did; `t.after` alone runs its hooks in the order they were added), so
 * a test needs no try/finally for what its helpers start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TestScope = { after(fn: () => unknown): void };

const pending = new WeakMap<TestScope, (() => unknown)[]>();

export const onEnd = (t: TestScope, fn: () => unknown): void => {
  let fns = pending.get(t);
  if (fns === undefined) {
    const list: (() => unknown)[] = [];
    fns = list;
    pending.set(t, list);
    t.after(async () => {
      pending.delete(t);
      const errors: unknown[] = [];
      for (const f of list.reverse()) {
        try {
          await f();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'cleanups failed');
    });
  }
  fns.push(fn);
};

/** A fresh directory under the OS's temporary one, removed with its contents when `t` ends. */
export const tempDir = (t: TestScope, prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onEnd(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
