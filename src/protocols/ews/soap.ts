/**
 * SOAP 1.1 envelopes as EWS speaks them: reading a request (header, version, the one operation
 * element of the body) and writing a response with `ServerVersionInfo` in its header, or a fault.
 */
import { child, childText, esc, parseXml, XmlError, type XmlElement } from './xml.js';

export const NS = {
  soap: 'http://schemas.xmlsoap.org/soap/envelope/',
  messages: 'http://schemas.microsoft.com/exchange/services/2006/messages',
  types: 'http://schemas.microsoft.com/exchange/services/2006/types',
  errors: 'http://schemas.microsoft.com/exchange/services/2006/errors',
} as const;

/**
 * What the server says it is: Exchange 2010 SP3 (14.3), whose API version is Exchange2010_SP2.
 * A client that reads 14.0 turns streaming notifications off (issue 17).
 */
export const SERVER_VERSION = { major: 14, minor: 3, majorBuild: 123, minorBuild: 4, api: 'Exchange2010_SP2' } as const;

/** The API versions this server accepts in RequestServerVersion, oldest first (its own is the newest). */
export const API_VERSIONS = ['Exchange2007', 'Exchange2007_SP1', 'Exchange2010', 'Exchange2010_SP1', 'Exchange2010_SP2'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

/** A request-level failure: answered as a SOAP fault (HTTP 500, as Exchange does) with an EWS response code. */
export class SoapFault extends Error {
  override readonly name = 'SoapFault';
  constructor(
    readonly responseCode: string,
    message: string,
    /** Exchange's BackOffMilliseconds hint (ErrorServerBusy). */
    readonly backOffMs?: number,
    /** 'Client' faults are the request's fault; EWS codes go in the a: namespace as Exchange writes them. */
    readonly faultCode: string = `a:${responseCode}`,
  ) {
    super(message);
  }
}

export interface SoapRequest {
  /** The operation element (GetFolder, FindItem, …), whichever prefix the client used. */
  operation: XmlElement;
  version: ApiVersion;
  header: XmlElement | undefined;
}

/** Reads an envelope; SoapFault for anything that is not one EWS can answer. */
export function readEnvelope(body: string): SoapRequest {
  let env: XmlElement;
  try {
    env = parseXml(body);
  } catch (err) {
    if (err instanceof XmlError) throw new SoapFault('ErrorSchemaValidation', `The request failed schema validation: ${err.message}`);
    throw err;
  }
  if (env.name !== 'Envelope' || env.ns !== NS.soap) {
    throw new SoapFault('ErrorSchemaValidation', 'The request is not a SOAP 1.1 envelope (http://schemas.xmlsoap.org/soap/envelope/)');
  }
  const header = env.children.find((c) => c.name === 'Header' && c.ns === NS.soap);
  const bodyEl = env.children.find((c) => c.name === 'Body' && c.ns === NS.soap);
  const operation = bodyEl?.children[0];
  if (!bodyEl || !operation || bodyEl.children.length !== 1) throw new SoapFault('ErrorSchemaValidation', 'The SOAP body must hold exactly one operation element');
  if (operation.ns !== NS.messages) {
    throw new SoapFault('ErrorSchemaValidation', `The element ${operation.name} is not in the EWS messages namespace (${NS.messages})`);
  }
  return { operation, version: requestedVersion(header), header };
}

/** RequestServerVersion: absent means Exchange2007 (the schema's first version); a newer or unknown one is refused. */
function requestedVersion(header: XmlElement | undefined): ApiVersion {
  const rsv = child(header, 'RequestServerVersion');
  if (!rsv) return 'Exchange2007';
  const v = rsv.attrs['Version'] ?? '';
  if ((API_VERSIONS as readonly string[]).includes(v)) return v as ApiVersion;
  throw new SoapFault('ErrorInvalidServerVersion', 'The specified server version is invalid.');
}

export function atLeast(v: ApiVersion, min: ApiVersion): boolean {
  return API_VERSIONS.indexOf(v) >= API_VERSIONS.indexOf(min);
}

/** The header every answer carries. */
export function serverVersionInfo(): string {
  const v = SERVER_VERSION;
  return `<h:ServerVersionInfo MajorVersion="${v.major}" MinorVersion="${v.minor}" MajorBuildNumber="${v.majorBuild}" MinorBuildNumber="${v.minorBuild}" Version="${v.api}" xmlns:h="${NS.types}" xmlns="${NS.types}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>`;
}

const ENVELOPE_START = `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${NS.soap}"><s:Header>`;

/** A response envelope around an operation's response element (written with m: and t: prefixes). */
export function envelope(bodyXml: string): string {
  return `${ENVELOPE_START}${serverVersionInfo()}</s:Header><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">${bodyXml}</s:Body></s:Envelope>`;
}

/** `<m:XResponse xmlns:m xmlns:t>…</m:XResponse>` */
export function responseElement(operation: string, inner: string): string {
  return `<m:${operation}Response xmlns:m="${NS.messages}" xmlns:t="${NS.types}">${inner}</m:${operation}Response>`;
}

/** A fault envelope (still with ServerVersionInfo, which clients read to learn the version). */
export function faultEnvelope(f: SoapFault): string {
  const backOff = f.backOffMs !== undefined
    ? `<t:MessageXml xmlns:t="${NS.types}"><t:Value Name="BackOffMilliseconds">${f.backOffMs}</t:Value></t:MessageXml>`
    : '';
  return envelope(
    `<s:Fault><faultcode xmlns:a="${NS.types}">${esc(f.faultCode)}</faultcode><faultstring xml:lang="en-US">${esc(f.message)}</faultstring>`
    + `<detail><e:ResponseCode xmlns:e="${NS.errors}">${esc(f.responseCode)}</e:ResponseCode><e:Message xmlns:e="${NS.errors}">${esc(f.message)}</e:Message>${backOff}</detail></s:Fault>`,
  );
}

export { child, childText };
