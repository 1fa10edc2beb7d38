// The form_post response mode in a real browser (headless Debian chromium
// through playwright-core): after the login page, the provider's form_post
// page must submit itself to the client's redirect URI under its own
// Content-Security-Policy, and, with JavaScript off, offer a button that
// does the same. A tiny http server here is the client's redirect URI and
// records every POST it receives.
//
// env: AUTH_URL AUTH_URL_NOSCRIPT (authorization URLs with
//      response_mode=form_post) REDIRECT_URI (http://127.0.0.1:PORT/callback)
//      USERNAME PASSWORD
// prints: { posts: [{ with_js, content_type, fields }], console_errors,
//           noscript_button }
import { createServer } from 'node:http';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

const redirectURI = new URL(env('REDIRECT_URI'));

function callbackServer(posts) {
  let notify = () => {};
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method === 'POST' && new URL(req.url, redirectURI).pathname === redirectURI.pathname) {
        posts.push({ content_type: req.headers['content-type'] ?? '', fields: Object.fromEntries(new URLSearchParams(body)) });
        notify();
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>App</title><p>Signed in to the app.</p>');
    });
  });
  const posted = (n) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the redirect URI got ${posts.length} POSTs, want ${n}`)), 10000);
      notify = () => {
        if (posts.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      };
      notify();
    });
  return new Promise((resolve) => server.listen(Number(redirectURI.port), '127.0.0.1', () => resolve({ server, posted })));
}

async function signIn(page, url) {
  await page.goto(url);
  await page.getByLabel('Username').fill(env('USERNAME'));
  await page.getByLabel('Password').fill(env('PASSWORD'));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

main(async () => {
  const posts = [];
  const { server, posted } = await callbackServer(posts);
  const browser = await launchChromium();
  const result = { console_errors: [] };
  try {
    // With JavaScript: the page submits itself.
    const context = await browser.newContext();
    const page = await context.newPage();
    watchConsole(page, result.console_errors);
    await signIn(page, env('AUTH_URL'));
    await posted(1);
    await page.waitForURL((u) => u.href.startsWith(redirectURI.href));
    await context.close();

    // Without JavaScript: the button.
    const noJS = await browser.newContext({ javaScriptEnabled: false });
    const page2 = await noJS.newPage();
    await signIn(page2, env('AUTH_URL_NOSCRIPT'));
    const button = page2.getByRole('button', { name: 'Continue' });
    await button.waitFor();
    result.noscript_button = true;
    await button.click();
    await posted(2);
    await noJS.close();
  } finally {
    await browser.close();
    server.close();
  }
  result.posts = posts.map((p, i) => ({ with_js: i === 0, ...p }));
  return result;
});
