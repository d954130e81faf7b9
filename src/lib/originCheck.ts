// Whether a request comes from this site: its Origin has this site's scheme, host and port.

export interface OriginRequest {
  headers: { origin?: string; host?: string; 'sec-fetch-site'?: string; 'x-forwarded-proto'?: string | string[] };
  socket?: { encrypted?: boolean; remoteAddress?: string };
}

export interface SiteSettings {
  /** The site is served over https (Secure cookies): only an https Origin is this site. */
  secure: boolean;
  /** As TRUST_PROXY: whether the peer's X-Forwarded-Proto says which scheme the client used. */
  trustProxy: boolean | number;
}

/**
 * A request without Origin (same-origin form posts in some browsers, tools) passes on its token alone;
 * `Origin: null` (strict referrer policies) passes when the browser's fetch metadata says same-origin.
 * Otherwise the Origin must be `<scheme>://<Host>`, where the scheme is https on a secure site, else the
 * one the client used (TLS on the socket, or a trusted proxy's X-Forwarded-Proto), so that a plain-http
 * page cannot post to the https shop on the same host, nor a page on another port.
 */
export function originCheck(site: SiteSettings): (req: OriginRequest) => boolean {
  const proxyTrusted = site.trustProxy !== false && site.trustProxy !== 0;
  const scheme = (req: OriginRequest): string => {
    if (site.secure || req.socket?.encrypted) return 'https';
    if (proxyTrusted) {
      const forwarded = req.headers['x-forwarded-proto'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0].trim().toLowerCase();
      if (first === 'https') return 'https';
    }
    return 'http';
  };
  return (req) => {
    const origin = req.headers.origin;
    if (!origin) return true;
    if (origin === 'null') return req.headers['sec-fetch-site'] === 'same-origin';
    const host = req.headers.host;
    if (!host) return false;
    const expected = `${scheme(req)}://${host}`;
    if (origin === expected) return true;
    // Spelled differently (case, a default port written out): compare what the URLs mean.
    try {
      return new URL(origin).origin === new URL(expected).origin;
    } catch {
      return false;
    }
  };
}
