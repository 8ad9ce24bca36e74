import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { TooManyObjectsOpened } from '../../governor/errors.js';
import { StoreError } from '../../store/errors.js';
import { SmtpReply } from '../../transport/replies.js';
import { OBJECT_LIMIT_ANSWERS, STORE_ERROR_ANSWERS, type HttpAnswer } from '../../access/answers.js';

/** The original's words (KB 980049), shown on the web mail error page. */
export const PROBLEM_TITLE = 'A problem occurred while you were trying to use your mailbox.';

/** What "Show details" reveals (SPEC §3.5). */
export interface ErrorDetails {
  exceptionType: string;
  message: string;
  requestUrl: string;
  user: string;
  server: string;
  time: string;
  limitName?: string;
  limit?: number;
  count?: number;
  objectType?: string;
}

/** A refusal the app shows as the error page (503/429) rather than as a one-line message. */
export class OwaProblem extends Error {
  constructor(
    readonly status: number,
    readonly exceptionType: string,
    message: string,
    readonly extra: Partial<ErrorDetails> = {},
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** An answer from the table (access/answers.ts) as the error web mail throws. */
export function httpAnswerError(a: HttpAnswer): Error {
  if (a.page === 'problem') return new OwaProblem(a.status, a.code, a.text, a.details ?? {}, a.retryAfterSeconds);
  return new HttpError(a.status, a.text, a.code, a.retryAfterSeconds);
}

/** Plain refusals: { error } with a status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function requestUrl(req: FastifyRequest): string {
  return `https://${req.headers.host ?? 'localhost'}${req.url}`;
}

function problemBody(req: FastifyRequest, server: string, user: string, exceptionType: string, message: string, extra: Partial<ErrorDetails>) {
  const details: ErrorDetails = {
    exceptionType, message, requestUrl: requestUrl(req), user, server, time: new Date().toISOString(), ...extra,
  };
  return { error: 'problem', title: PROBLEM_TITLE, details };
}

/**
 * Every error a web mail route can raise, turned into its HTTP answer in one place.
 * A session limit is 503 (the sign-in cannot proceed); an object limit is 429 (that one
 * operation failed, the session stays open — SPEC §3.3).
 */
export function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply, server: string, user: string): FastifyReply {
  if (err instanceof TooManyObjectsOpened) {
    // a session limit is a logon refusal (503 via the pipeline); here, also an object limit (429)
    const a = OBJECT_LIMIT_ANSWERS.http(err);
    reply.header('retry-after', String(a.retryAfterSeconds));
    return reply.code(err.objectType === 'session' ? 503 : a.status).send(problemBody(req, server, err.user, a.code, a.text, a.details ?? {}));
  }
  if (err instanceof OwaProblem) {
    if (err.retryAfterSeconds) reply.header('retry-after', String(err.retryAfterSeconds));
    return reply.code(err.status).send(problemBody(req, server, user, err.exceptionType, err.message, err.extra));
  }
  if (err instanceof HttpError) {
    if (err.retryAfterSeconds) reply.header('retry-after', String(err.retryAfterSeconds));
    return reply.code(err.status).send({ error: err.message, code: err.code });
  }
  if (err instanceof ZodError) {
    const first = err.issues[0];
    return reply.code(400).send({ error: `invalid request: ${first ? `${first.path.join('.') || 'body'}: ${first.message}` : 'bad input'}` });
  }
  if (err instanceof StoreError) {
    return reply.code(STORE_ERROR_ANSWERS[err.kind].http).send({ error: err.message });
  }
  if (err instanceof SmtpReply) {
    // 4xx replies are temporary (try again), 5xx permanent (the request itself is wrong)
    return reply.code(err.responseCode >= 500 ? 422 : 503).send({ error: err.toString() });
  }
  const e = err as { statusCode?: number; message?: string; code?: string };
  // Fastify's own errors: bad JSON, wrong content type, body too large
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return reply.code(e.statusCode).send({ error: e.message ?? 'bad request', code: e.code });
  }
  req.log.error(err);
  return reply.code(500).send({ error: 'internal error' });
}
