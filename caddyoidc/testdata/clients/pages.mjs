// A user at the provider's pages with plain HTTP: fetch with a cookie jar,
// following redirects only while they stay on the issuer, reading the hidden
// form fields of the login and consent pages and posting them back, as a
// browser without JavaScript would. The emulation scripts hand it the
// authorization URL their library built and get back the URL the provider
// sends the browser to (the client's redirect URI with code, state and iss).

export function env(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    throw new Error(`environment variable ${name} is required`);
  }
  return v;
}

// decodeHTML reverses what Go's html/template does to attribute values.
export function decodeHTML(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|#39);/gi, (_, e) => {
    const l = e.toLowerCase();
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    if (l.startsWith('#')) return String.fromCodePoint(parseInt(l.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[l];
  });
}

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'));
  return m ? decodeHTML(m[1]) : undefined;
}

// formOf returns the first form of a page: its absolute action URL and the
// values of its inputs (hidden and prefilled).
export function formOf(html, pageURL) {
  const form = html.match(/<form\b[^>]*>/i);
  if (!form) throw new Error(`no form on ${pageURL}: ${html.slice(0, 300)}`);
  const action = new URL(attr(form[0], 'action') ?? '', pageURL).toString();
  const fields = new URLSearchParams();
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(tag, 'name');
    if (name) fields.set(name, attr(tag, 'value') ?? '');
  }
  return { action, fields };
}

export class Browser {
  constructor(issuer) {
    this.origin = new URL(issuer).origin;
    this.issuer = issuer;
    this.cookies = new Map();
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  keepCookies(resp) {
    for (const c of resp.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  // request does one HTTP request without following redirects.
  async request(url, init = {}) {
    const headers = new Headers(init.headers ?? {});
    if (new URL(url).origin === this.origin && this.cookies.size) headers.set('Cookie', this.cookieHeader());
    const resp = await fetch(url, { ...init, headers, redirect: 'manual' });
    if (new URL(url).origin === this.origin) this.keepCookies(resp);
    return { status: resp.status, location: resp.headers.get('location'), headers: resp.headers, body: await resp.text(), url };
  }

  // follow requests url and follows redirects that stay on the provider's
  // origin; it stops at the first page or at a redirect that leaves.
  async follow(url, init = {}) {
    let r = await this.request(url, init);
    for (let i = 0; i < 10 && r.location; i++) {
      const next = new URL(r.location, r.url);
      if (next.origin !== this.origin) return { ...r, location: next.toString() };
      r = await this.request(next.toString());
    }
    return r;
  }

  async post(url, fields) {
    return this.follow(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: this.origin },
      body: fields.toString(),
    });
  }

  // authorize runs an authorization request through the pages: the login
  // form (when not yet signed in) and the consent form (allow). It returns
  // the URL the provider redirects the browser to, which must leave the
  // provider.
  async authorize(authURL, { username, password }) {
    let r = await this.follow(authURL);
    for (let step = 0; step < 4; step++) {
      if (r.location) return r.location;
      if (r.status !== 200) throw new Error(`unexpected ${r.status} at ${r.url}: ${r.body.slice(0, 400)}`);
      const { action, fields } = formOf(r.body, r.url);
      if (/name="password"/.test(r.body)) {
        fields.set('username', username);
        fields.set('password', password);
      } else if (/name="decision"/.test(r.body)) {
        fields.set('decision', 'allow');
      } else {
        throw new Error(`neither login nor consent page at ${r.url}: ${r.body.slice(0, 400)}`);
      }
      r = await this.post(action, fields);
    }
    throw new Error('the provider never redirected back to the client');
  }
}

// output prints the script's result for the Go test (one JSON line on
// stdout) and exits 0.
export function output(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

// main runs fn and turns any failure into exit code 1 with the error on
// stderr, so the Go test shows why.
export function main(fn) {
  fn().then(output, (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    if (err?.error) process.stderr.write(`error=${err.error} description=${err.error_description}\n`);
    process.exit(1);
  });
}

// decodeJWT returns a JWT's payload without verifying it.
export function decodeJWT(jwt) {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}
