import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import type { Problem } from './api';

/**
 * The page Exchange users know from KB 980049 — "A problem occurred while you were trying
 * to use your mailbox." — with Show details revealing what refused and why.
 */
export function ErrorPage(props: { problem: Problem; actionLabel: string; onAction: () => void }) {
  const [open, setOpen] = useState(false);
  const d = props.problem.details;
  const rows: Array<[string, string]> = [
    ['Request URL', d.requestUrl],
    ['User', d.user],
    ['Exception type', d.exceptionType],
    ['Exception message', d.message],
    ['Server', d.server],
    ['Time', new Date(d.time).toUTCString()],
  ];
  if (d.limitName) rows.push(['Limit', `${d.limitName} = ${d.limit} (in use: ${d.count})`]);
  return (
    <main class="error-page">
      <div role="alert"><h1>{props.problem.title}</h1></div>
      <p>Close this message and try again. If the problem continues, contact your administrator and give them the details below.</p>
      <p class="error-actions">
        <button type="button" class="linklike" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? 'Hide details' : 'Show details'}
        </button>
        <button type="button" onClick={props.onAction}>{props.actionLabel}</button>
      </p>
      {open && (
        <dl class="error-details" data-testid="error-details">
          {rows.map(([k, v]) => (<Fragment key={k}><dt>{k}</dt><dd>{v}</dd></Fragment>))}
        </dl>
      )}
    </main>
  );
}
