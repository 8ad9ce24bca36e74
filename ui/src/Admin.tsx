import { useEffect, useState } from 'preact/hooks';
import { get, post, type Me } from './api';

interface SessionRow { id: string; user: string; kind: string; clientAddress: string; clientInfo: string | null; node: string; openedAt: string; lastActivity: string; objects: Record<string, number> }
interface EventRow { recordId: number; time: string; level: number; provider: string; eventId: number; count: number; message: string }
interface DeviceRow { user: string; deviceId: string; deviceType: string; model: string; os: string; userAgent: string; firstSyncAt: string; lastSyncAt: string }
interface SettingRow { name: string; value: string; source: string; default: string; scope: string; description: string; type: string; values?: string[] }

const LEVEL: Record<number, string> = { 2: 'Error', 3: 'Warning', 4: 'Information' };

/** Admin pages: the CLI's sessions, events and settings commands for admin users. */
export function Admin(props: { me: Me }) {
  const [tab, setTab] = useState<'sessions' | 'devices' | 'events' | 'settings'>('sessions');
  return (
    <div class="admin">
      <div class="tabs" role="tablist">
        {(['sessions', 'devices', 'events', 'settings'] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>{t[0]!.toUpperCase() + t.slice(1)}</button>
        ))}
      </div>
      {tab === 'sessions' && <Sessions me={props.me} />}
      {tab === 'devices' && <Devices />}
      {tab === 'events' && <Events />}
      {tab === 'settings' && <Settings />}
    </div>
  );
}

function useLoad<T>(path: string, deps: unknown[]): [T | null, string, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');
  const [n, setN] = useState(0);
  useEffect(() => {
    get<T>(path).then((d) => { setData(d); setError(''); }).catch((e: Error) => setError(e.message));
  }, [path, n, ...deps]);
  return [data, error, () => setN(n + 1)];
}

function Sessions(props: { me: Me }) {
  const [data, error, reload] = useLoad<{ sessions: SessionRow[] }>('/admin/sessions', []);
  const kill = async (id: string) => {
    await post(`/admin/sessions/${encodeURIComponent(id)}/kill`).catch(() => undefined);
    reload();
  };
  return (
    <section>
      <button type="button" onClick={reload}>Refresh</button>
      {error && <p class="error">{error}</p>}
      <table class="grid">
        <thead><tr><th>ID</th><th>User</th><th>Kind</th><th>Client</th><th>Opened</th><th>Last activity</th><th>Objects</th><th /></tr></thead>
        <tbody>
          {data?.sessions.map((s) => (
            <tr key={s.id}>
              <td>{s.id}{s.id === props.me.sessionId ? ' (you)' : ''}</td><td>{s.user}</td><td>{s.kind}</td>
              <td>{s.clientAddress} {s.clientInfo ?? ''}</td>
              <td>{new Date(s.openedAt).toLocaleString()}</td><td>{new Date(s.lastActivity).toLocaleString()}</td>
              <td>{Object.entries(s.objects).filter(([, v]) => v > 0).map(([k, v]) => `${k}:${v}`).join(' ')}</td>
              <td><button type="button" onClick={() => void kill(s.id)}>End session</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** ActiveSync devices (Get-MobileDevice); removing one drops its sync state (Remove-MobileDevice). */
function Devices() {
  const [data, error, reload] = useLoad<{ devices: DeviceRow[] }>('/admin/devices', []);
  const [msg, setMsg] = useState('');
  const remove = async (d: DeviceRow) => {
    await post('/admin/devices/remove', { user: d.user, deviceId: d.deviceId }).then(() => setMsg(`Removed ${d.deviceId} of ${d.user}.`), (e: Error) => setMsg(e.message));
    reload();
  };
  return (
    <section>
      <button type="button" onClick={reload}>Refresh</button>
      {(error || msg) && <p class="notice" role="status">{error || msg}</p>}
      <table class="grid">
        <thead><tr><th>User</th><th>Device ID</th><th>Type</th><th>Model</th><th>OS</th><th>First sync</th><th>Last sync</th><th /></tr></thead>
        <tbody>
          {data?.devices.map((d) => (
            <tr key={`${d.user}/${d.deviceId}`}>
              <td>{d.user}</td><td>{d.deviceId}</td><td>{d.deviceType}</td><td>{d.model}</td><td>{d.os}</td>
              <td>{new Date(d.firstSyncAt).toLocaleString()}</td><td>{new Date(d.lastSyncAt).toLocaleString()}</td>
              <td><button type="button" onClick={() => void remove(d)}>Remove device</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && !data.devices.length && <p>No mobile devices.</p>}
    </section>
  );
}

function Events() {
  const [id, setId] = useState('');
  const q = id ? `?id=${encodeURIComponent(id)}` : '';
  const [data, error, reload] = useLoad<{ events: EventRow[] }>(`/admin/events${q}`, []);
  return (
    <section>
      <label>Event ID <input value={id} inputMode="numeric" onInput={(e) => setId(e.currentTarget.value.replace(/\D/g, ''))} /></label>
      <button type="button" onClick={reload}>Refresh</button>
      <a class="button" href={`/owa/api/admin/events/export${q}`} download="mailwarden-events.xml">Export XML</a>
      {error && <p class="error">{error}</p>}
      <table class="grid">
        <thead><tr><th>Record</th><th>Time</th><th>Level</th><th>Source</th><th>ID</th><th>Count</th><th>Message</th></tr></thead>
        <tbody>
          {data?.events.map((e) => (
            <tr key={e.recordId}>
              <td>{e.recordId}</td><td>{new Date(e.time).toLocaleString()}</td><td>{LEVEL[e.level]}</td>
              <td>{e.provider}</td><td>{e.eventId}</td><td>{e.count}</td><td>{e.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Settings() {
  const [scope, setScope] = useState({ kind: 'server', target: '' });
  const [filter, setFilter] = useState('');
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState('');
  const q = scope.kind !== 'server' && scope.target ? `?${scope.kind}=${encodeURIComponent(scope.target)}` : '';
  const [data, error, reload] = useLoad<{ settings: SettingRow[] }>(`/admin/settings${q}`, []);
  const scopeBody = scope.kind !== 'server' && scope.target ? { [scope.kind]: scope.target } : {};
  const save = async (name: string) => {
    try {
      await post('/admin/settings', { name, value: edits[name] ?? '', ...scopeBody });
      setMsg(`${name} saved; it applies from the next logon.`);
      reload();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  const unset = async (name: string) => {
    await post('/admin/settings/unset', { name, ...scopeBody }).catch((e: Error) => setMsg(e.message));
    reload();
  };
  return (
    <section>
      <div class="settings-scope">
        <select aria-label="Scope" value={scope.kind} onChange={(e) => setScope({ kind: e.currentTarget.value, target: '' })}>
          <option value="server">Server</option><option value="user">User</option><option value="database">Database</option>
        </select>
        {scope.kind !== 'server' && <input placeholder={scope.kind === 'user' ? 'user address' : 'database name'} value={scope.target}
          onChange={(e) => setScope({ ...scope, target: e.currentTarget.value })} />}
        <input type="search" placeholder="Filter settings" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </div>
      {(error || msg) && <p class="notice" role="status">{error || msg}</p>}
      <table class="grid">
        <thead><tr><th>Setting</th><th>Value</th><th>From</th><th>Default</th><th /></tr></thead>
        <tbody>
          {data?.settings.filter((s) => s.name.toLowerCase().includes(filter.toLowerCase())).map((s) => (
            <tr key={s.name} title={s.description}>
              <td>{s.name}</td>
              <td><input aria-label={s.name} value={edits[s.name] ?? s.value} onInput={(e) => setEdits({ ...edits, [s.name]: e.currentTarget.value })} /></td>
              <td>{s.source}</td><td>{s.default}</td>
              <td>
                <button type="button" onClick={() => void save(s.name)}>Save</button>
                {s.source !== 'default' && <button type="button" onClick={() => void unset(s.name)}>Reset</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
