// The browser the browser tests share: Debian's headless chromium driven by
// playwright-core (which downloads no browser of its own), and a watcher
// that collects what a page complains about, so each script reports its
// console_errors the same way.
import { chromium } from 'playwright-core';

// launchChromium starts /usr/bin/chromium headless, without a sandbox, GPU,
// QUIC or any of its own network traffic (updates, sync, first-run pages),
// and returns playwright-core's Browser.
export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

// watchConsole pushes onto errors, as `${page.url()}: ${text}`, every console
// message of type 'error' on page whose text does not match expected (a
// RegExp; omitted or null: none is expected) and every uncaught error in the
// page.
export function watchConsole(page, errors, expected = null) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected?.test(m.text())) errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
}
