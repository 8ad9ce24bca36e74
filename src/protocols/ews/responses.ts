/** Response messages: one per requested object, each Success or Error with its EWS response code. */
import { EWS_OBJECT_LIMIT_ANSWER, EWS_STORE_ERRORS } from '../../access/answers.js';
import { TooManyObjectsOpened } from '../../governor/errors.js';
import { StoreError } from '../../store/errors.js';
import { EwsError } from './call.js';
import { esc } from './xml.js';

export const okMessage = (op: string, inner = ''): string =>
  `<m:${op}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>${inner}</m:${op}ResponseMessage>`;

export const errorMessage = (op: string, code: string, text: string): string =>
  `<m:${op}ResponseMessage ResponseClass="Error"><m:MessageText>${esc(text)}</m:MessageText><m:ResponseCode>${esc(code)}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:${op}ResponseMessage>`;

export const responseMessages = (list: string[]): string => `<m:ResponseMessages>${list.join('')}</m:ResponseMessages>`;

/**
 * The error message for a failure of one object, or a rethrow: a busy store (`unavailable`)
 * fails the whole request as ErrorServerBusy with a back-off (the endpoint's fault), and
 * anything that is not a known failure is a bug the endpoint answers as an internal error.
 */
export function failure(op: string, err: unknown, notFound = 'ErrorItemNotFound'): string {
  if (err instanceof EwsError) return errorMessage(op, err.responseCode, err.message);
  if (err instanceof TooManyObjectsOpened) {
    const a = EWS_OBJECT_LIMIT_ANSWER(err);
    return errorMessage(op, a.responseCode, a.text);
  }
  if (err instanceof StoreError && err.kind !== 'unavailable') {
    const code = err.kind === 'not-found' ? notFound : EWS_STORE_ERRORS[err.kind].responseCode;
    return errorMessage(op, code, err.message);
  }
  throw err;
}

/** One response message per input, each failing on its own. */
export async function perObject<T>(op: string, inputs: T[], fn: (t: T) => Promise<string>, notFound?: string): Promise<string> {
  const out: string[] = [];
  for (const input of inputs) {
    try {
      out.push(okMessage(op, await fn(input)));
    } catch (err) {
      out.push(failure(op, err, notFound));
    }
  }
  return responseMessages(out);
}
