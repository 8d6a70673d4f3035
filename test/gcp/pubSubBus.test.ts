// The Pub/Sub bus: unit tests on a stubbed client (topics kept, batching, encoding), and a fan-out
// of 300 messages through the real Pub/Sub emulator (skipped, saying so, without gcloud/java).

import assert from 'node:assert/strict';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import sinon from 'sinon';
import { PUBLISH_BATCHING, PubSubBus, encodeData } from '../../shared/adapters/gcp/pubSubBus.js';
import { startEmulator, useEmulatorEnv, type Emulator } from './emulators.js';

describe('gcp/PubSubBus', () => {
  let sandbox: sinon.SinonSandbox;

  beforeEach(() => {
    sandbox = sinon.createSandbox();
  });

  afterEach(() => sandbox.restore());

  describe('on a stubbed client', () => {
    let topics: Map<string, { publishMessage: sinon.SinonStub; flush: sinon.SinonStub }>;
    let client: { topic: sinon.SinonStub; close: sinon.SinonStub };
    let bus: PubSubBus;

    beforeEach(() => {
      topics = new Map();
      let id = 0;
      client = {
        topic: sandbox.stub().callsFake((name: string) => {
          const t = { publishMessage: sandbox.stub().callsFake(async () => `m${++id}`), flush: sandbox.stub().resolves() };
          topics.set(name, t);
          return t;
        }),
        close: sandbox.stub().resolves(),
      };
      bus = new PubSubBus(client as unknown as PubSub);
    });

    it('keeps one batching Topic per name', async () => {
      await bus.publish('bqx-run-requests', { pair: 'eurusd' });
      await bus.publishMany('bqx-extract-requests', [{ data: 1 }, { data: 2 }]);
      await bus.publish('bqx-run-requests', { pair: 'gbpusd' });
      sinon.assert.calledTwice(client.topic);
      sinon.assert.calledWithExactly(client.topic, 'bqx-run-requests', { batching: { maxMessages: 100, maxMilliseconds: 50 } });
      sinon.assert.calledWithExactly(client.topic, 'bqx-extract-requests', { batching: { maxMessages: 100, maxMilliseconds: 50 } });
      assert.deepEqual(PUBLISH_BATCHING, { maxMessages: 100, maxMilliseconds: 50 });
    });

    it('sends JSON data (strings as they are) with the attributes, and returns ids in order', async () => {
      const id = await bus.publish('t1', { runId: 'r', feature: 'agg_eurusd' }, { pair: 'eurusd', runId: 'r', feature: 'agg_eurusd' });
      assert.equal(id, 'm1');
      const [message] = topics.get('t1')!.publishMessage.firstCall.args;
      assert.equal(message.data.toString(), '{"runId":"r","feature":"agg_eurusd"}');
      assert.deepEqual(message.attributes, { pair: 'eurusd', runId: 'r', feature: 'agg_eurusd' });

      const ids = await bus.publishMany('t2', [{ data: 'eurusd' }, { data: { n: 2 }, attributes: { pair: 'gbpusd' } }]);
      assert.deepEqual(ids, ['m2', 'm3']);
      const sent = topics.get('t2')!.publishMessage.getCalls().map((c) => c.args[0]);
      assert.deepEqual(
        sent.map((m) => [m.data.toString(), m.attributes]),
        [
          ['eurusd', undefined],
          ['{"n":2}', { pair: 'gbpusd' }],
        ],
      );
      assert.equal(encodeData(new Uint8Array([1, 2])).toString('hex'), '0102');
    });

    it('refuses attributes that are not strings and data that has no JSON form', async () => {
      await assert.rejects(bus.publish('t', {}, { attempt: 2 } as unknown as Record<string, string>), /attribute attempt must be a string/);
      await assert.rejects(bus.publish('t', undefined), /cannot publish undefined/);
      assert.equal(topics.get('t')?.publishMessage.callCount ?? 0, 0);
    });

    it('flushes its topics and closes the client', async () => {
      await bus.publish('t', 1);
      await bus.close();
      sinon.assert.calledOnce(topics.get('t')!.flush);
      sinon.assert.calledOnce(client.close);
    });
  });

  describe('on the Pub/Sub emulator', function () {
    let emulator: Emulator | undefined;
    let restoreEnv: (() => void) | undefined;
    let admin: PubSub;
    let bus: PubSubBus;

    before(async function () {
      emulator = await startEmulator('pubsub');
      if (!emulator) return this.skip();
      restoreEnv = useEmulatorEnv(emulator);
      admin = new PubSub({ projectId: emulator.project });
      bus = new PubSubBus(new PubSub({ projectId: emulator.project }));
    });

    after(async () => {
      if (bus) await bus.close();
      if (admin) await admin.close();
      restoreEnv?.();
      if (emulator) await emulator.stop();
    });

    it('fans out 300 messages with their data and attributes, each delivered', async () => {
      const [topic] = await admin.createTopic('bqx-extract-requests');
      const [subscription] = await topic.createSubscription('extract-test');
      const received = new Map<string, { data: unknown; attributes: Record<string, string> }>();
      const listen = (sub: Subscription) =>
        sub.on('message', (m: Message) => {
          received.set(m.id, { data: JSON.parse(m.data.toString()), attributes: m.attributes });
          m.ack();
        });
      listen(subscription);
      try {
        const items = Array.from({ length: 300 }, (_, i) => {
          const feature = `feature_${String(i).padStart(3, '0')}`;
          return { data: { runId: 'eurusd-20250101t000000-abc123', feature }, attributes: { pair: 'eurusd', runId: 'eurusd-20250101t000000-abc123', feature } };
        });
        const ids = await bus.publishMany('bqx-extract-requests', items);
        assert.equal(new Set(ids).size, 300, 'every message got its own id');

        const deadline = Date.now() + 30_000;
        while (received.size < 300 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(received.size, 300);
        assert.deepEqual(new Set(received.keys()), new Set(ids));
        const features = [...received.values()].map((r) => {
          assert.equal(r.attributes.feature, (r.data as { feature: string }).feature);
          assert.equal(r.attributes.pair, 'eurusd');
          return r.attributes.feature;
        });
        assert.equal(new Set(features).size, 300);
      } finally {
        await subscription.close();
      }
    });

    it('publishes a plain string as it is', async () => {
      const [topic] = await admin.createTopic('bqx-run-requests');
      const [subscription] = await topic.createSubscription('run-test');
      try {
        const got = new Promise<Message>((resolve) => subscription.once('message', resolve));
        const id = await bus.publish('bqx-run-requests', 'eurusd', { pair: 'eurusd' });
        const message = await got;
        message.ack();
        assert.deepEqual([message.id, message.data.toString(), message.attributes], [id, 'eurusd', { pair: 'eurusd' }]);
      } finally {
        await subscription.close();
      }
    });
  });
});
