import { useState } from 'preact/hooks';
import { ApiError, post, type Me } from './api';

export function Login(props: { notice: string; onSignedIn: (me: Me, csrf: string) => void }) {
  const [address, setAddress] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await post<{ user: Me; csrf: string }>('/login', { address, password });
      props.onSignedIn(r.user, r.csrf);
    } catch (err) {
      // the error page (limits) is shown by the app itself; other refusals are shown here
      if (!(err instanceof ApiError && err.code === 'problem')) setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Mailwarden</h1>
        {props.notice && <p class="notice" role="status">{props.notice}</p>}
        <label>E-mail address
          <input name="address" type="text" autocomplete="username" value={address} required
            onInput={(e) => setAddress(e.currentTarget.value)} />
        </label>
        <label>Password
          <input name="password" type="password" autocomplete="current-password" value={password} required
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
