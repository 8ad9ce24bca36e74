/**
 * Hostile HTML mail. Every payload, if it ran, would set window.__xss (in the app's page,
 * via parent/top) or fetch a URL on the recorder `R` — so "nothing ran" is observable.
 */
export function xssCorpus(R: string): Array<[string, string]> {
  const hit = (name: string) => `fetch('${R}/${name}');parent.__xss='${name}';top.__xss='${name}'`;
  return [
    ['script', `<script>${hit('script')}</script>`],
    ['script-src', `<script src="${R}/script-src.js"></script>`],
    ['img-onerror', `<img src="x" onerror="${hit('img-onerror')}">`],
    ['body-onload', `<body onload="${hit('body-onload')}">`],
    ['javascript-href', `<a id="jslink" href="javascript:${hit('javascript-href')}">click me</a>`],
    ['javascript-entity', `<a href="jav&#x09;ascript:${hit('javascript-entity')}">x</a>`],
    ['svg-onload', `<svg onload="${hit('svg-onload')}"><circle r="5"/></svg>`],
    ['svg-script', `<svg><script>${hit('svg-script')}</script></svg>`],
    ['svg-animate', `<svg><animate onbegin="${hit('svg-animate')}" attributeName="x" dur="1s"/></svg>`],
    ['svg-data-img', `<img src="data:image/svg+xml;base64,${Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" onload="${hit('svg-data-img')}"/>`).toString('base64')}">`],
    ['css-expression', `<div style="width: expression(${hit('css-expression')})">expr</div>`],
    ['css-url', `<div style="background: url(${R}/css-url.png)">bg</div>`],
    ['css-js-url', `<div style="background-image: url('javascript:${hit('css-js-url')}')">bg</div>`],
    ['style-import', `<style>@import url(${R}/style-import.css); body { background: url(${R}/style-bg.png) }</style>`],
    ['link-css', `<link rel="stylesheet" href="${R}/link.css">`],
    ['iframe', `<iframe src="javascript:${hit('iframe')}"></iframe><iframe src="${R}/iframe.html"></iframe>`],
    ['object', `<object data="${R}/object.swf"></object><embed src="${R}/embed.swf">`],
    ['form', `<form action="${R}/form" method="post"><input name="p" value="x"><button id="formbtn">Go</button></form>`],
    ['meta-refresh', `<meta http-equiv="refresh" content="0;url=${R}/meta-refresh">`],
    ['base', `<base href="${R}/base/">`],
    ['mxss', `<math><mtext><table><mglyph><style><img src=x onerror="${hit('mxss')}"></style></mglyph></table></mtext></math>`],
    ['noscript', `<noscript><p title="</noscript><img src=x onerror=${hit('noscript').replace(/'/g, '')}>"></noscript>`],
    ['details', `<details open ontoggle="${hit('details')}">d</details>`],
    ['video', `<video><source onerror="${hit('video')}"></video>`],
    ['remote-img', `<img id="remote" src="${R}/remote.png" alt="remote">`],
    ['srcset', `<img srcset="${R}/srcset.png 1x">`],
  ];
}

export function xssMessageHtml(R: string): string {
  return `<html><head><title>evil title</title></head><body><p>Visible marker text</p>${xssCorpus(R).map(([, p]) => p).join('\n')}</body></html>`;
}
