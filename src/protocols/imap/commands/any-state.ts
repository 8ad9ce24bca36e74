// CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, COMPRESS.
import { expectArgs, atomArg } from '../args.js';
import { bad, no } from '../errors.js';
import { capabilityList } from '../capabilities.js';
import { str } from '../wire.js';
import { valueText } from '../parser/command-parser.js';
import { ANY, AUTHED, type CommandSpec } from './types.js';

const VERSION = '0.1.0';

export const anyStateCommands: Record<string, CommandSpec> = {
  CAPABILITY: {
    states: ANY,
    run: async (s, c) => {
      expectArgs(c.args, 0);
      s.send(`CAPABILITY ${capabilityList(s)}`);
    },
  },
  NOOP: { states: ANY, run: async () => undefined },
  LOGOUT: {
    states: ANY,
    run: async (s) => {
      s.bye('Mailwarden IMAP4 server signing off');
      s.state = 'logout';
      s.endReason = 'logout';
    },
  },
  ID: {
    states: ANY,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      const a = c.args[0]!;
      if (a.t === 'list') {
        if (a.v.length % 2 !== 0 || a.v.length > 60) throw bad('ID needs field/value pairs');
        const fields = new Map<string, string>();
        for (let i = 0; i < a.v.length; i += 2) {
          const k = valueText(a.v[i]);
          const v = a.v[i + 1]!.t === 'atom' && (a.v[i + 1] as { v: string }).v.toUpperCase() === 'NIL' ? null : valueText(a.v[i + 1]);
          if (k !== null && v !== null) fields.set(k.toLowerCase(), v.slice(0, 100));
        }
        const info = [fields.get('name'), fields.get('version')].filter(Boolean).join(' ');
        if (info) {
          // Shown by "sessions list": which client holds the session is what admins ask first.
          s.clientInfo = info;
          s.storeSession?.setClientInfo(info);
        }
      } else if (atomArg(a, 'ID list or NIL').toUpperCase() !== 'NIL') throw bad('ID needs a list or NIL');
      s.send(`ID (${str('name')} ${str('Mailwarden')} ${str('version')} ${str(VERSION)} ${str('vendor')} ${str('Mailwarden')})`);
    },
  },
  ENABLE: {
    states: AUTHED,
    run: async (s, c) => {
      if (c.args.length === 0) throw bad('ENABLE needs capability names');
      const done: string[] = [];
      for (const v of c.args) {
        const name = atomArg(v, 'capability').toUpperCase();
        const canonical = name === 'IMAP4REV2' ? 'IMAP4rev2' : name;
        if (!['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4rev2'].includes(canonical)) continue;
        const add = canonical === 'QRESYNC' ? ['QRESYNC', 'CONDSTORE'] : [canonical];
        for (const x of add) if (!s.enabled.has(x)) {
          if (x === 'CONDSTORE') s.enableCondstore();
          else s.enabled.add(x);
          done.push(x);
        }
      }
      s.send(`ENABLED${done.map((d) => ' ' + d).join('')}`);
    },
  },
  NAMESPACE: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 0);
      s.send('NAMESPACE (("" "/")) NIL NIL');
    },
  },
  COMPRESS: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      if (atomArg(c.args[0], 'algorithm').toUpperCase() !== 'DEFLATE') throw bad('Only DEFLATE is supported');
      if (s.conn.compressed) throw no('Compression is already active', 'COMPRESSIONACTIVE');
      // The tagged OK must travel uncompressed; compression starts right after it.
      s.startCompressionAfterReply = true;
      return 'DEFLATE active';
    },
  },
};
