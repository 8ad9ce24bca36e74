/**
 * Compact forms for the few answers too big for structured clone. Cloning a listing of 10,000
 * MessageSummary objects cost the main thread 21 ms to take apart (bench/store-hop.ts), more
 * than building it on the main thread did (15 ms); as columns in one Float64Array (moved, not
 * copied), the distinct flag sets and one string of hashes it costs a few. Every other operation needs no entry here.
 */
import type { MessageIndex, MessageSummary } from '../../types.js';

export interface ResultCodec<T, W> {
  /** On the store thread: the wire form and the memory to move with it. */
  encode(value: T): { wire: W; transfer: ArrayBuffer[] };
  /** On the main thread. */
  decode(wire: W): T;
}

interface SummaryColumns {
  /** id, uid, modseq, internal date, save date (NaN: none), size of message i at [6i … 6i+5]. */
  numbers: Float64Array;
  /** The distinct flag sets, and per message the index of its own. */
  flagSets: string[][];
  flagOf: Uint32Array;
  /** The blob hashes joined by newlines (one string clones as one copy). */
  hashes: string;
}

const summaries: ResultCodec<MessageSummary[], SummaryColumns> = {
  encode(list) {
    const numbers = new Float64Array(list.length * 6);
    const flagOf = new Uint32Array(list.length);
    const sets = new Map<string, number>();
    const flagSets: string[][] = [];
    const hashes = new Array<string>(list.length);
    list.forEach((m, i) => {
      numbers.set([m.id, m.uid, m.modseq, m.internalDate.getTime(), m.saveDate?.getTime() ?? NaN, m.size], i * 6);
      const key = m.flags.join('\0');
      let k = sets.get(key);
      if (k === undefined) {
        sets.set(key, (k = flagSets.length));
        flagSets.push([...m.flags]);
      }
      flagOf[i] = k;
      hashes[i] = m.blobHash;
    });
    return { wire: { numbers, flagSets, flagOf, hashes: hashes.join('\n') }, transfer: [numbers.buffer as ArrayBuffer, flagOf.buffer as ArrayBuffer] };
  },
  decode({ numbers, flagSets, flagOf, hashes }) {
    const flags = flagSets; // one array per combination, shared between messages, as SqliteStore.listMessages does
    const hash = flagOf.length ? hashes.split('\n') : [];
    const out = new Array<MessageSummary>(flagOf.length);
    for (let i = 0; i < out.length; i++) {
      const o = i * 6;
      out[i] = { id: numbers[o]!, uid: numbers[o + 1]!, modseq: numbers[o + 2]!, flags: flags[flagOf[i]!]!, internalDate: new Date(numbers[o + 3]!), saveDate: Number.isNaN(numbers[o + 4]) ? null : new Date(numbers[o + 4]!), size: numbers[o + 5]!, blobHash: hash[i]! };
    }
    return out;
  },
};

interface IndexColumns {
  uids: Uint32Array;
  modseqs: Float64Array;
  sizes: Float64Array;
  /** The distinct flag arrays, and per message the index of its own. */
  flagSets: ReadonlyArray<ReadonlyArray<string>>;
  flagOf: Uint32Array;
}

/**
 * A MessageIndex's arrays are moved, not copied; its flags (one shared array per combination)
 * cross as the distinct combinations and a number per message: structured clone walked the
 * 100,000 references of a big folder on both threads (a SELECT's listing).
 */
const messageIndex: ResultCodec<MessageIndex, IndexColumns> = {
  encode({ uids, modseqs, sizes, flags }) {
    const flagOf = new Uint32Array(flags.length);
    const sets = new Map<ReadonlyArray<string>, number>();
    const flagSets: Array<ReadonlyArray<string>> = [];
    for (let i = 0; i < flags.length; i++) {
      const f = flags[i]!;
      let k = sets.get(f);
      if (k === undefined) {
        sets.set(f, (k = flagSets.length));
        flagSets.push(f);
      }
      flagOf[i] = k;
    }
    const transfer = [uids.buffer, modseqs.buffer, sizes.buffer, flagOf.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    return { wire: { uids, modseqs, sizes, flagSets, flagOf }, transfer: [...new Set(transfer)] };
  },
  decode({ uids, modseqs, sizes, flagSets, flagOf }) {
    const flags = new Array<ReadonlyArray<string>>(flagOf.length);
    for (let i = 0; i < flags.length; i++) flags[i] = flagSets[flagOf[i]!]!;
    return { uids, modseqs, sizes, flags };
  },
};

/** By store method name. */
export const RESULT_CODECS: Record<string, ResultCodec<never, never> | undefined> = {
  listMessages: summaries as unknown as ResultCodec<never, never>,
  listMessageIndex: messageIndex as unknown as ResultCodec<never, never>,
};
