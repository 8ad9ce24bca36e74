/** The JSON API under /owa/api, and the types it returns. */

export interface Me { address: string; displayName: string; isAdmin: boolean; sessionId: string }
export interface Folder { id: number; name: string; specialUse: string | null; unread: number; total: number }
export interface ListItem {
  /** The server's opaque message id: the same after a move. */
  id: string; folderId: number; subject: string; from: string; to: string; date: string; preview: string;
  hasAttachments: boolean; size: number; seen: boolean; flagged: boolean; draft: boolean;
}
export interface Attachment { index: number; filename: string; contentType: string; size: number }
export interface Message extends ListItem {
  fromAddress: string; cc: string; bcc: string; replyTo: string; messageId: string | null;
  htmlDocument: string | null; text: string; remoteImages: number; attachments: Attachment[];
}
export interface ProblemDetails {
  exceptionType: string; message: string; requestUrl: string; user: string; server: string; time: string;
  limitName?: string; limit?: number; count?: number; objectType?: string;
}
export interface Problem { status: number; title: string; details: ProblemDetails }

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message);
  }
}

/** The app shows the error page (limits, throttling) and the sign-in form (401) from anywhere. */
export const hooks = {
  problem: (_p: Problem) => {},
  signedOut: (_reason: string) => {},
};

let csrf = '';
export function setCsrf(token: string): void {
  csrf = token;
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(`/owa/api${path}`, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.ok) return data as T;
  if (data.error === 'problem') {
    const p = { status: res.status, title: String(data.title), details: data.details as ProblemDetails };
    hooks.problem(p);
    throw new ApiError(res.status, p.details.message, 'problem');
  }
  const message = typeof data.error === 'string' ? data.error : `HTTP ${res.status}`;
  const code = typeof data.code === 'string' ? data.code : undefined;
  if (res.status === 401 && path !== '/login') hooks.signedOut(message);
  throw new ApiError(res.status, message, code);
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => api<T>('POST', path, body);

/** "Ann <ann@x.org>; bob@y.org" → ["ann@x.org", "bob@y.org"] */
export function parseAddresses(text: string): string[] {
  return text.split(/[,;]/).map((p) => {
    const m = /<([^>]+)>/.exec(p);
    return (m ? m[1]! : p).trim();
  }).filter(Boolean);
}

export function fileToBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

export function formatDate(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString();
}

export function formatSize(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}
