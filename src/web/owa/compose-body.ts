import { compile } from 'html-to-text';
import { sanitiseHtml } from './sanitise.js';

/** The body of a message written in web mail, as MailComposer takes it. */
export interface ComposedBody {
  text: string;
  /** A whole HTML document; absent for a plain-text message. */
  html?: string;
}

/**
 * The plain-text alternative of a rich message, for readers that show no HTML. Lines are not
 * wrapped here: such readers wrap for themselves, and quoted-printable keeps the wire lines short.
 * Images become nothing (an inline image's data: URL is no text), and a link whose text is its
 * own address is written once.
 */
const toText = compile({
  wordwrap: false,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'img', format: 'skip' },
  ],
});

/**
 * The client's HTML is never trusted: it goes through the reading pane's allow-list sanitiser
 * (no scripts, event handlers, forms or javascript: URLs). Remote images stay as written: whether
 * to load them is the recipient's choice, made in the recipient's reader.
 */
export function composedBody(text: string, html: string | undefined): ComposedBody {
  if (html === undefined) return { text };
  const clean = sanitiseHtml(html, { showImages: true }).html;
  const derived = toText(clean);
  // an editor left empty still holds a <br> or an empty paragraph: that is no HTML body
  if (!/\S/.test(derived) && !/<img\b/i.test(clean)) return { text };
  return {
    text: text || derived,
    html: `<!doctype html><html><head><meta charset="utf-8"></head><body>${clean}</body></html>`,
  };
}
