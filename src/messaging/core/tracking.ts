/**
 * Open and click tracking for email HTML: every http(s) link is sent through Waymark's click
 * redirect (the target travels inside the signed token, so the redirect cannot be abused as an open
 * redirect), and an invisible pixel reports the open. Pure: the URL makers come in as functions.
 */
export function trackEmailHtml(
  html: string,
  urls: { click: (target: string) => string; open: string },
): string {
  const linked = html.replace(
    /(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?:\/\/[^"']+)\2/gi,
    (match, head, quote, href) => {
      // Unsubscribe and preference links go straight to their pages.
      if (/\/(u|p)\/[A-Za-z0-9_.-]+$/.test(href)) return match;
      return `${head}${quote}${escapeAttribute(urls.click(decodeEntities(href)))}${quote}`;
    },
  );
  const pixel = `<img src="${escapeAttribute(urls.open)}" width="1" height="1" alt="" style="display:none">`;
  return /<\/body>/i.test(linked) ? linked.replace(/<\/body>/i, `${pixel}</body>`) : linked + pixel;
}

function decodeEntities(s: string): string {
  return s.replace(/&amp;/g, "&");
}

function escapeAttribute(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
}
