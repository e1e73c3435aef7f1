/** A producer port for unit tests, with no Kafka behind it. */
import type { CdrProducer, OutMessage } from '../../src/kafka/port.ts';

/** A producer, always connected, that hands each message it is sent, with its topic, to `onMessage`. */
export const stubProducer = (onMessage: (topic: string, m: OutMessage) => void): CdrProducer => ({
  connect: async () => undefined,
  isConnected: () => true,
  disconnect: async () => undefined,
  send: async (batches) => {
    for (const b of batches) for (const m of b.messages) onMessage(b.topic, m);
  },
});
