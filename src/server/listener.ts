/** How serve starts a front end, and what it gets back. */
export interface ListenerOptions {
  host: string;
  port: number;
  /** true: TLS from the first byte (993, 995, 465, HTTPS); false: STARTTLS/STLS offered. */
  implicitTls: boolean;
  /** PROXY protocol from these load balancers (config proxyProtocol); absent: direct clients only. */
  proxy?: { trusted: string[] };
}

export interface Listener {
  name: string;
  host: string;
  port: number;
  implicitTls: boolean;
  close(): Promise<void>;
}
