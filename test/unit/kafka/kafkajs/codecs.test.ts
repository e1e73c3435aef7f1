import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import { registerCodecs, zstdCodec } from '../../../../src/kafka/kafkajs/codecs.ts';

describe('zstd codec for kafkajs', () => {
  it('is what kafkajs finds for ZSTD once registered', () => {
    registerCodecs();
    registerCodecs(); // idempotent
    const { CompressionCodecs, CompressionTypes } = kafkajs;
    assert.equal(CompressionCodecs[CompressionTypes.ZSTD](), zstdCodec);
  });

  it('writes standard zstd frames and reads them back', async () => {
    const text = Buffer.from('{"report_id":"r-1","org":"o-1"}'.repeat(500));
    for (const data of [text, randomBytes(4096), Buffer.alloc(0)]) {
      const packed = await zstdCodec.compress({ buffer: data });
      assert.deepEqual(zstdDecompressSync(packed), data, 'a frame any zstd reader decodes');
      assert.deepEqual(await zstdCodec.decompress(zstdCompressSync(data)), data);
      assert.deepEqual(await zstdCodec.decompress(packed), data);
    }
    const packed = await zstdCodec.compress({ buffer: text });
    assert.ok(packed.length < text.length / 10, `${packed.length} of ${text.length} bytes`);
    await assert.rejects(zstdCodec.decompress(Buffer.from('not zstd')));
  });
});
