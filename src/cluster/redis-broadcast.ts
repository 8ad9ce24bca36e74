import type { Redis } from 'ioredis';

type Handler = (data: string) => void;

/**
 * Small "every node, do this" messages (drop an identity's cached credentials after a lockout):
 * one pub/sub channel; the sending node hears its own message too, so a handler runs once per node.
 */
export class RedisBroadcast {
  private readonly handlers = new Map<string, Handler[]>();

  private constructor(private readonly pub: Redis, private readonly sub: Redis, private readonly channel: string, private readonly onError: (what: string, err: unknown) => void) {
    sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        const { t, d } = JSON.parse(message) as { t: string; d: string };
        for (const h of this.handlers.get(t) ?? []) h(d);
      } catch (err) {
        onError('handling a broadcast', err);
      }
    });
  }

  static async open(redis: Redis, prefix: string, onError: (what: string, err: unknown) => void): Promise<RedisBroadcast> {
    const sub = redis.duplicate();
    const b = new RedisBroadcast(redis, sub, `${prefix}broadcast`, onError);
    await sub.subscribe(b.channel);
    return b;
  }

  on(type: string, handler: Handler): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
  }

  send(type: string, data: string): void {
    this.pub.publish(this.channel, JSON.stringify({ t: type, d: data })).catch((err) => this.onError(`broadcasting ${type}`, err));
  }

  async close(): Promise<void> {
    this.sub.disconnect();
  }
}
