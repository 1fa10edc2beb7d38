// The pages in other languages in a real browser (Debian's headless
// chromium via playwright-core): a German browser gets German pages, an
// authorization request with ui_locales=ar gets the operator's Arabic
// catalogue laid out right to left (the alert's thick border on the right,
// the heading aligned to the right), and the passkey script reads its
// translated texts without a CSP complaint.
//
// env: AUTH_URL (an authorization URL without ui_locales) ARTIFACTS_DIR
import { join } from 'node:path';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

const authURL = new URL(env('AUTH_URL'));
const artifacts = env('ARTIFACTS_DIR');

// layout reads what the test checks on a login page after a wrong password.
async function layout(page) {
  return page.evaluate(() => {
    const alert = document.querySelector('.alert[role=alert]:not([hidden])');
    const card = document.querySelector('main.card').getBoundingClientRect();
    const text = document.createRange();
    text.selectNodeContents(document.querySelector('h1'));
    const h1 = text.getBoundingClientRect(); // the heading's text, not its block
    const st = alert ? getComputedStyle(alert) : null;
    return {
      lang: document.documentElement.lang,
      dir: document.documentElement.dir,
      computed_direction: getComputedStyle(document.body).direction,
      title: document.title,
      username_label: document.querySelector('label[for=username]')?.textContent,
      password_label: document.querySelector('label[for=password]')?.textContent,
      alert: alert?.textContent,
      alert_border_left: st?.borderLeftWidth,
      alert_border_right: st?.borderRightWidth,
      // distance of the heading's text from the card's left and right edges
      h1_gap_left: Math.round(h1.left - card.left),
      h1_gap_right: Math.round(card.right - h1.right),
    };
  });
}

main(async () => {
  const browser = await launchChromium();
  const result = { console_errors: [] };
  try {
    for (const [name, locale, uiLocales] of [['de', 'de-DE', ''], ['ar', 'de-DE', 'ar']]) {
      const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale });
      const page = await context.newPage();
      watchConsole(page, result.console_errors, /^Failed to load resource: the server responded with a status of 401\b/);
      const u = new URL(authURL);
      if (uiLocales) u.searchParams.set('ui_locales', uiLocales);
      await page.goto(u.href);
      await page.fill('#username', 'alice');
      await page.fill('#password', 'wrong password');
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit].primary')]);
      result[name] = await layout(page);
      await page.screenshot({ path: join(artifacts, `login-${name}.png`), fullPage: true });
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return result;
});
