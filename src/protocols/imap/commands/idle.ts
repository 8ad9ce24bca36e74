// IDLE (RFC 2177): changes are pushed as they happen until the client sends DONE.
import { expectArgs } from '../args.js';
import { bad } from '../errors.js';
import { AUTHED, type CommandSpec } from './types.js';

export const idleCommands: Record<string, CommandSpec> = {
  IDLE: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 0);
      // a change subscription is one objtNotify object for as long as it lasts
      const release = await s.storeSession!.openObject('objtNotify');
      let pushing = Promise.resolve();
      const push = () => {
        pushing = pushing.then(() => s.pushChanges(true)).catch(() => undefined);
      };
      try {
        s.write('+ idling\r\n');
        s.flush();
        s.idleWake = push;
        push(); // whatever is pending goes out at once
        const e = await s.conn.next();
        s.idleWake = null;
        await pushing;
        if (!e) return 'IDLE ended';
        if (e.type === 'command' && e.literals.length === 0 && e.line.toString('latin1').trim().toUpperCase() === 'DONE') return 'IDLE terminated';
        throw bad('Expected DONE');
      } finally {
        s.idleWake = null;
        release();
      }
    },
  },
};
