import { useEffect, useRef } from 'preact/hooks';
import { get } from './api';

/**
 * Server-Sent Events from /owa/api/events. EventSource reconnects by itself after network
 * errors; when the server refuses (signed out, object limit) it gives up, so we ask the
 * session endpoint what happened and try again later if we are still signed in.
 */
export function usePush(handlers: { onChange: (folderId: number) => void; onSignedOut: () => void }) {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const connect = () => {
      es = new EventSource('/owa/api/events');
      es.addEventListener('change', (e) => {
        const data = JSON.parse((e as MessageEvent<string>).data) as { folderId: number };
        ref.current.onChange(data.folderId);
      });
      es.addEventListener('signedout', () => {
        es?.close();
        if (!stopped) ref.current.onSignedOut();
      });
      es.onerror = () => {
        if (es?.readyState !== EventSource.CLOSED || stopped) return;
        void get<{ signedIn: boolean }>('/session').then((s) => {
          if (stopped) return;
          if (!s.signedIn) ref.current.onSignedOut();
          else retry = setTimeout(connect, 15_000);
        }).catch(() => { retry = setTimeout(connect, 15_000); });
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      es?.close();
    };
  }, []);
}
