/**
 * The base subject of RFC 5256 section 2.1: what SORT SUBJECT compares and THREAD groups by,
 * with the subject's "Re:"/"Fwd:" prefixes, "[list]" tags and "(fwd)" trailers taken off.
 * Lives beside the other header helpers because any front end listing conversations needs it.
 */
import { decodeHeaderValue } from './search-text.js';

export interface BaseSubject {
  /** The base subject, case kept (compare subjectKey of it). */
  base: string;
  /** Whether a reply or forward marker was removed: "Re:", "Fwd:", "(fwd)", "[fwd: ...]" (RFC 5256 2.1). */
  isReplyOrForward: boolean;
}

/** subj-refwd with the subj-blobs a subj-leader may start with (RFC 5256 section 5). */
const LEADER = /^(?:\[[^[\]]*\] *)*(?:re|fwd?) *(?:\[[^[\]]*\] *)?:/i;
const BLOB = /^\[[^[\]]*\] */;
const TRAILER = /\(fwd\)$/i;

/** RFC 5256 2.1 steps 1–6, on a raw (possibly encoded-word) Subject value. */
export function baseSubject(raw: string): BaseSubject {
  // (1) decode encoded words; tabs and folding become spaces, runs of white space one space
  let s = (raw.includes('=?') ? decodeHeaderValue(raw) : raw).replace(/[ \t\r\n]+/g, ' ');
  let marked = false;
  for (;;) {
    // (2) trailing "(fwd)" and white space
    for (;;) {
      if (s.endsWith(' ')) s = s.trimEnd();
      else if (TRAILER.test(s)) {
        s = s.slice(0, -5);
        marked = true;
      } else break;
    }
    // (3)–(5) leading white space and subj-leaders, then a leading blob unless it is all there is
    for (;;) {
      let changed = false;
      for (;;) {
        if (s.startsWith(' ')) {
          s = s.trimStart();
          continue;
        }
        const m = LEADER.exec(s);
        if (!m) break;
        s = s.slice(m[0].length);
        marked = true;
      }
      const blob = BLOB.exec(s);
      if (blob && blob[0].length < s.length) {
        s = s.slice(blob[0].length);
        changed = true;
      }
      if (!changed) break;
    }
    // (6) "[fwd: ... ]" around the whole: take it off and start again at (2)
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      marked = true;
      continue;
    }
    return { base: s, isReplyOrForward: marked };
  }
}

/**
 * The form base subjects (and display names) compare in: i;unicode-casemap (RFC 5051) maps to
 * titlecase and decomposes; upper case after NFKD gives the same order for ASCII and groups the
 * rest the same way.
 */
export function casemapKey(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.toUpperCase() : s.normalize('NFKD').toUpperCase();
}
