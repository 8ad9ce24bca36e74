// The SORT/THREAD corpus of sort-thread.test.ts: messages with known answers, shared with the
// check against Dovecot (bench/imap-sort.ts runs the same answers against both servers).

export interface CorpusMessage {
  raw: Buffer;
  /** INTERNALDATE (APPEND date-time). */
  internal: Date;
}

/** A message with these header fields (undefined ones left out), padded to `size` bytes when given. */
export function message(fields: Record<string, string | undefined>, size?: number): Buffer {
  const head = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const text = `${head}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
  const body = 'body\r\n';
  const pad = size === undefined ? 0 : size - Buffer.byteLength(text) - Buffer.byteLength(body);
  if (pad < 0) throw new Error(`message longer than ${size}`);
  return Buffer.from(text + 'x'.repeat(pad) + body);
}

const day = (d: number, h = 12): Date => new Date(Date.UTC(2024, 0, d, h));

/**
 * Six messages for SORT (sequence numbers 1–6), each key with ties and traps:
 * base subjects Hello/Äpfel/hello/apples/Hello/Apples ("Re: [list]", encoded word, "(fwd)", "Fwd: Re:",
 * "[fwd: ...]"), sent dates with a missing and an unreadable Date (internal date used) and three equal
 * ones (one written in another zone), equal FROM and SIZE keys, a group as To, encoded display names. Dovecot 2.3 gives these answers too.
 */
export const SORT_CORPUS: CorpusMessage[] = [
  { raw: message({ From: 'Zed Zulu <zed@x.org>', To: 'bob@y.org', Subject: 'Re: [list] Hello', Date: 'Tue, 02 Jan 2024 10:00:00 +0000' }, 1300), internal: day(5) },
  { raw: message({ From: 'alice@x.org', To: '"Carol" <carol@y.org>', Subject: '=?UTF-8?Q?=C3=84pfel?=' }, 1200), internal: day(1) },
  { raw: message({ From: '=?UTF-8?Q?Bj=C3=B6rn?= <bjorn@x.org>', Subject: 'hello (fwd)', Date: 'Mon, 01 Jan 2024 10:00:00 +0000' }, 1400), internal: day(3) },
  { raw: message({ From: 'Anna <zz@x.org>', To: 'Zack <aaron@y.org>', Cc: 'dave@z.org', Subject: 'Fwd: Re: apples', Date: 'not a date at all' }, 1200), internal: day(4) },
  { raw: message({ From: 'Bob <bob@x.org>', To: 'Xavier <xavier@y.org>', Cc: 'Carl <carl@z.org>, aaa@z.org', Subject: '[fwd: Hello]', Date: 'Tue, 02 Jan 2024 10:00:00 +0000' }, 1500), internal: day(6) },
  { raw: message({ From: 'alice@x.org', To: 'undisclosed-recipients:;', Subject: 'Apples', Date: 'Tue, 02 Jan 2024 11:00:00 +0100' }, 1100), internal: day(7) },
];

/** Known answers for SORT_CORPUS: criteria → sequence numbers. */
export const SORT_ANSWERS: Array<[string, string]> = [
  ['(ARRIVAL)', '2 3 4 1 5 6'],
  ['(DATE)', '3 2 1 5 6 4'],
  ['(REVERSE DATE)', '4 1 5 6 2 3'], // equal dates keep mailbox order, REVERSE or not
  ['(SUBJECT)', '4 6 2 1 3 5'],
  ['(FROM)', '2 6 3 5 1 4'],
  ['(DISPLAYFROM)', '2 6 4 3 5 1'],
  // a group's first address is its name (as in ENVELOPE): "undisclosed-recipients"
  ['(TO)', '3 4 1 2 6 5'],
  ['(DISPLAYTO)', '3 1 2 6 5 4'],
  ['(CC)', '1 2 3 6 5 4'],
  ['(SIZE)', '6 2 4 1 3 5'],
  ['(REVERSE SIZE)', '5 3 1 2 4 6'],
  ['(SUBJECT REVERSE DATE)', '4 6 2 1 5 3'],
  ['(REVERSE ARRIVAL)', '6 5 1 4 3 2'],
];

const msgid = (id: string | undefined) => (id === undefined ? undefined : `<${id}@x>`);
function threadMessage(id: string | undefined, subject: string, date: string | undefined, refs?: { references?: string; inReplyTo?: string }): Buffer {
  return message({ From: 'a@x', 'Message-ID': msgid(id), Subject: subject, Date: date, References: refs?.references, 'In-Reply-To': refs?.inReplyTo });
}
const jan = (d: number) => `${['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][(d - 1) % 7]}, ${String(d).padStart(2, '0')} Jan 2024 09:00:00 +0000`;

/**
 * Fourteen messages for THREAD: a reply chain (References, In-Reply-To alone), a reference to a
 * message the folder lacks in the middle (dummy pruned) and at the root (dummy kept with two
 * children), unreadable References, a cycle, a missing Message-ID, a duplicate Message-ID, a message
 * referring to itself, a missing Date, and threads joined by subject.
 */
export const THREAD_CORPUS: CorpusMessage[] = [
  { raw: threadMessage('a', 'Project plan', jan(1)), internal: day(20) },
  { raw: threadMessage('b', 'Re: Project plan', jan(2), { references: '<a@x>' }), internal: day(20) },
  { raw: threadMessage('c', 'Re: Project plan', jan(3), { inReplyTo: '<b@x>' }), internal: day(20) },
  { raw: threadMessage('d', 'Re: Project plan', jan(4), { references: '<a@x> <missing@x>' }), internal: day(20) },
  { raw: threadMessage('e', 'Other topic', jan(5), { references: '<gone@x>' }), internal: day(20) },
  { raw: threadMessage('f', 'Re: Other topic', jan(6), { references: '<gone@x>' }), internal: day(20) },
  { raw: threadMessage('g', 'Lonely', jan(7)), internal: day(20) },
  { raw: threadMessage('h', 'Re: Lonely', jan(8), { references: 'garbage without brackets' }), internal: day(20) },
  { raw: threadMessage('i', 'Cycle', jan(9), { references: '<j@x>' }), internal: day(20) },
  { raw: threadMessage('j', 'Cycle', jan(10), { references: '<i@x>' }), internal: day(20) },
  { raw: threadMessage(undefined, 'Project plan', jan(11)), internal: day(20) },
  { raw: threadMessage('a', 'Dup', jan(12)), internal: day(20) },
  { raw: threadMessage('k', 'Self', jan(13), { references: '<k@x>' }), internal: day(20) },
  { raw: threadMessage('m', 'Re: Other topic', undefined, { references: '<f@x>' }), internal: new Date(Date.UTC(2023, 11, 1)) },
];

export const THREAD_ANSWERS: Array<[string, string]> = [
  ['REFERENCES', '((1 (2 3)(4))(11))((5)(6 14))(7 8)(10 9)(12)(13)'],
  ['ORDEREDSUBJECT', '(14 (5)(6))(1 (2)(3)(4)(11))(7 8)(9 10)(12)(13)'],
];


/**
 * Twelve subjects for the base-subject rules of RFC 5256 2.1 (sequence numbers 1–12, one day
 * apart): leaders repeated and after blobs, blobs alone, "(fwd)" trailers, "[fwd: ...]", a subject
 * that is only a blob (kept) or only "Re:" (empty), white space, an encoded "Re:", a leader with a
 * blob before its colon, no space after the colon, and "Ré:" (no leader).
 */
export const SUBJECT_CORPUS: CorpusMessage[] = [
  'Re: Re: [a][b] Fwd: Topic',
  '[list] [other] Topic',
  'Topic (fwd) (fwd)',
  '[fwd: Re: Topic]',
  '[only-blob]',
  'Re:',
  '   Fw:   spaced \t   out  ',
  '=?ISO-8859-1?Q?Re=3A_caf=E9?=',
  're [x]: Topic',
  'Fwd:Topic',
  'Ré: Topic',
  'Aardvark',
].map((subject, i) => ({
  raw: message({ From: 'a@x', Subject: subject, Date: `${String(i + 1).padStart(2, '0')} Feb 2024 09:00:00 +0000`, 'Message-ID': `<s${i + 1}@x>` }),
  internal: new Date(Date.UTC(2024, 2, 1)),
}));

export const SUBJECT_ANSWERS: Array<[string, string]> = [
  ['SORT (SUBJECT)', '6 12 8 11 7 1 2 3 4 9 10 5'],
  ['SORT (REVERSE SUBJECT)', '5 1 2 3 4 9 10 7 11 8 12 6'],
  ['THREAD ORDEREDSUBJECT', '(1 (2)(3)(4)(9)(10))(5)(6)(7)(8)(11)(12)'],
  ['THREAD REFERENCES', '(2 (1)(3)(4)(9)(10))(5)(6)(7)(8)(11)(12)'],
];
