import sanitizeHtml from 'sanitize-html';

/**
 * HTML mail is hostile input. It is cleaned here, on the server, with an allow-list (so a
 * construct nobody thought of is dropped, not passed), and then shown in a sandboxed iframe
 * without scripts under a CSP of its own: three layers, each enough on its own for the
 * usual payloads.
 */

/**
 * A CSS value we accept: no url() (remote fetches, javascript:), no expression()/behaviour
 * (old IE script hooks), no backslashes (CSS escapes could spell those words), no @import.
 */
const SAFE_CSS_VALUE = /^(?!.*(?:expression|url\s*\(|javascript|vbscript|behavior|binding|@import|image-set|image\s*\(|\\))[\w\s#%.,()"'!/+-]*$/i;
const CSS_PROPS = [
  'color', 'background-color', 'background', 'font', 'font-family', 'font-size', 'font-style', 'font-weight', 'text-align',
  'text-decoration', 'text-transform', 'text-indent', 'line-height', 'letter-spacing', 'white-space', 'vertical-align',
  'margin', 'margin-top', 'margin-right', 'margin-bottom', 'margin-left', 'padding', 'padding-top', 'padding-right',
  'padding-bottom', 'padding-left', 'border', 'border-top', 'border-right', 'border-bottom', 'border-left', 'border-color',
  'border-style', 'border-width', 'border-collapse', 'border-spacing', 'border-radius', 'width', 'height', 'max-width',
  'min-width', 'max-height', 'display', 'list-style-type', 'direction',
];
const allowedStyles = { '*': Object.fromEntries(CSS_PROPS.map((p) => [p, [SAFE_CSS_VALUE]])) };

/** Inline images we embed: bitmap types only (an SVG, even as <img>, is not worth the risk). */
const DATA_IMAGE = /^data:image\/(png|gif|jpeg|webp);base64,[a-z0-9+/=\s]+$/i;
const REMOTE = /^(https?:)?\/\//i;
/** A link that names its own origin: scheme and host (or mailto:). */
const ABSOLUTE_LINK = /^(https?:\/\/[^/\\\s]|mailto:)/i;

export interface SanitiseOptions {
  /** Load remote images (the reader chose "Show images"). */
  showImages: boolean;
}

export interface SanitisedHtml {
  html: string;
  remoteImages: number;
}

export function sanitiseHtml(input: string, opts: SanitiseOptions): SanitisedHtml {
  let remoteImages = 0;
  const html = sanitizeHtml(input, {
    allowedTags: [...sanitizeHtml.defaults.allowedTags, 'img', 'font', 'center', 'u'],
    allowedAttributes: {
      '*': ['style', 'title', 'align', 'dir', 'lang'],
      a: ['href', 'name', 'target', 'rel'],
      img: ['src', 'alt', 'width', 'height', 'data-mw-blocked'],
      table: ['width', 'height', 'bgcolor', 'cellpadding', 'cellspacing', 'border'],
      td: ['width', 'height', 'bgcolor', 'colspan', 'rowspan', 'valign'],
      th: ['width', 'height', 'bgcolor', 'colspan', 'rowspan', 'valign'],
      tr: ['bgcolor', 'valign'],
      font: ['color', 'size', 'face'],
    },
    allowedStyles,
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https', 'data'] },
    allowProtocolRelative: false,
    // text inside these is not mail content (title) or must never show as text (script, style)
    nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'head'],
    transformTags: {
      a: (tagName, attribs) => {
        // Only absolute http(s) and mailto links stay links. A relative one ("page.html", "/owa/…",
        // "?q", "#x") would resolve against the reading pane's base, i.e. open under our own origin
        // in a new tab (issue 14 item 7): it keeps its text and loses href and target.
        const href = (attribs.href ?? '').trim();
        const out: Record<string, string> = { ...attribs };
        delete out.href;
        delete out.target;
        delete out.rel;
        if (ABSOLUTE_LINK.test(href)) Object.assign(out, { href, target: '_blank', rel: 'noopener noreferrer' });
        return { tagName, attribs: out };
      },
      img: (tagName, attribs) => {
        const src = (attribs.src ?? '').trim();
        const out: Record<string, string> = { ...attribs };
        delete out.src;
        // mailparser has already turned cid: references into data: URIs; anything else is dropped
        if (DATA_IMAGE.test(src)) {
          out.src = src;
        } else if (REMOTE.test(src)) {
          remoteImages += 1;
          if (opts.showImages && !src.startsWith('//')) out.src = src;
          else out['data-mw-blocked'] = '1';
        }
        return { tagName, attribs: out };
      },
    },
  });
  return { html, remoteImages };
}

/**
 * The document the reading pane puts in `<iframe sandbox srcdoc>`. Its CSP forbids every
 * script and fetch; images come only from the message itself unless the reader chose
 * "Show images". (The iframe also inherits the app page's CSP: both apply.)
 */
export function readingDocument(bodyHtml: string, showImages: boolean): string {
  const img = showImages ? "data: https: http:" : 'data:';
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src ${img}; font-src data:; base-uri 'none'; form-action 'none'`;
  return [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="referrer" content="no-referrer">',
    '<style>body{font:14px/1.45 system-ui,sans-serif;margin:8px;color:#222;word-wrap:break-word}img{max-width:100%;height:auto}',
    'img[data-mw-blocked]{display:inline-block;min-width:16px;min-height:16px;background:#eee}</style>',
    '</head><body>', bodyHtml, '</body></html>',
  ].join('');
}
