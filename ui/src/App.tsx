import { useEffect, useRef, useState } from 'preact/hooks';
import { get, hooks, setCsrf, type Me, type Problem } from './api';
import { ErrorPage } from './ErrorPage';
import { Login } from './Login';
import { Mailbox } from './Mailbox';

interface SessionInfo { signedIn: boolean; user?: Me; csrf: string; reason?: string | null }

/** Top level: sign-in form, mailbox, or the error page (which can cover either). */
export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [notice, setNotice] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  // the first reason for leaving the mailbox is the one to show: requests still in flight
  // after a sign-out come back 401 and must not replace "You have signed out."
  const gone = useRef(false);
  const leave = (reason: string) => {
    if (gone.current) return;
    gone.current = true;
    setNotice(reason);
    void loadSession();
  };

  async function loadSession() {
    const s = await get<SessionInfo>('/session');
    setCsrf(s.csrf);
    setMe(s.signedIn ? s.user! : null);
  }

  useEffect(() => {
    hooks.problem = setProblem;
    hooks.signedOut = leave;
    loadSession().catch(() => setMe(null));
  }, []);

  if (problem) {
    // a session refusal (503) means we are not signed in; an object refusal (429) leaves the mailbox usable
    const signedIn = problem.status === 429 && !!me;
    return (
      <ErrorPage problem={problem} actionLabel={signedIn ? 'Back to your mailbox' : 'Try again'}
        onAction={() => { setProblem(null); if (!signedIn) void loadSession(); }} />
    );
  }
  if (me === undefined) return <div class="loading">Loading…</div>;
  if (me === null) {
    return <Login notice={notice} onSignedIn={(u, csrf) => { setCsrf(csrf); setNotice(''); gone.current = false; setMe(u); }} />;
  }
  return <Mailbox me={me} onSignedOut={leave} />;
}
