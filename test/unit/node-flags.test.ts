import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { shippedNodeFlags } from '../bench/node-flags.ts';

describe('the V8 flags the CLI ships with', () => {
  it('bounds the young generation and keeps an idle heap, in the shebang and in the container alike', () => {
    const flags = shippedNodeFlags();
    assert.ok(flags.includes('--max-semi-space-size=8'), flags.join(' '));
    assert.ok(flags.includes('--no-memory-reducer'), flags.join(' '));
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint !== undefined, 'the Dockerfile has an ENTRYPOINT');
    const words = JSON.parse(entrypoint) as string[];
    assert.deepEqual(
      words.filter((w) => w.startsWith('--')),
      flags,
    );
  });
});
