import { test, expect, Browser, BrowserContext, Page, CDPSession } from '@playwright/test';
import { collectErrors, signInAsRoot, waitForHydration } from './helpers';

/** Bytes received per URL while `visit` runs, as Chromium counts them on the wire (a response
 *  served from the browser's cache counts 0). */
async function bytesOnTheWire(page: Page, visit: () => Promise<void>): Promise<Map<string, number>> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  const bytes = new Map<string, number>();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => {
    const url = urls.get(e.requestId);
    if (url) bytes.set(url, (bytes.get(url) ?? 0) + e.encodedDataLength);
  });
  await visit();
  await cdp.detach();
  return bytes;
}

const isBundle = (url: string) => new URL(url).pathname.startsWith('/pkg/');

test('without JavaScript / redirects on the server to the sign-in page', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto('/');
  expect(new URL(page.url()).pathname).toBe('/users/sign_in');
  expect(response?.status()).toBe(200);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await context.close();
});

test('the bundle comes compressed with brotli under a hashed name, and a second visit fetches none of it', async ({ page }) => {
  const errors = collectErrors(page);
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm'));
  await signInAsRoot(page, '/users/sign_in?redirect_to=/admin');
  const response = await wasm;
  expect(new URL(response.url()).pathname).toMatch(/^\/pkg\/service-ping\.[0-9a-f]{16}\.wasm$/);
  const headers = await response.allHeaders();
  expect(headers['content-encoding']).toBe('br');
  expect(headers['cache-control']).toBe('public, max-age=31536000, immutable');
  const stylesheet = await page.locator('link[rel=stylesheet]').getAttribute('href');
  expect(stylesheet).toMatch(/^\/pkg\/service-ping\.[0-9a-f]{16}\.css$/);

  // A later visit to another page: only its HTML and data travel.
  const second = await bytesOnTheWire(page, async () => {
    await page.goto('/admin/usage_trends');
    await waitForHydration(page);
  });
  const bundle = [...second].filter(([url]) => isBundle(url));
  expect(bundle.reduce((sum, [, n]) => sum + n, 0)).toBe(0);
  const html = [...second].find(([url]) => new URL(url).pathname === '/admin/usage_trends');
  expect(html?.[1]).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});

const USAGE_STATISTICS = '/admin/application_settings/metrics_and_profiling';
const MAINTENANCE = '/admin/maintenance_mode';
const PASSWORD_RULES = '/admin/password_rules';
const ANNOUNCEMENTS = '/admin/broadcast_messages';

/** A browser without JavaScript, signed in as root (the sign-in itself done with JavaScript). */
async function signedInWithoutJavaScript(browser: Browser): Promise<BrowserContext> {
  const signing = await browser.newContext();
  await signInAsRoot(await signing.newPage());
  const storageState = await signing.storageState();
  await signing.close();
  return browser.newContext({ javaScriptEnabled: false, storageState });
}

test('without JavaScript Service Ping is turned off and on by a form, and a refusal is shown', async ({ browser }) => {
  const context = await signedInWithoutJavaScript(browser);
  const page = await context.newPage();
  await page.goto(USAGE_STATISTICS);
  const toggle = page.getByTestId('toggle-service-ping');
  await expect(toggle).toBeChecked();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Enabled');
  await expect(page.getByTestId('toggle-service-ping-save')).toHaveText('Turn off');

  // A second tab still shows Service Ping on, so its Registration Features switch can be used.
  const stale = await context.newPage();
  await stale.goto(USAGE_STATISTICS);

  await page.getByTestId('toggle-service-ping-save').click();
  await expect.poll(() => new URL(page.url()).pathname).toBe(USAGE_STATISTICS);
  await expect(page.getByTestId('service-ping-state')).toHaveText('Disabled');
  await expect(page.getByTestId('toggle-service-ping')).not.toBeChecked();
  await expect(page.getByTestId('audit-log').locator('tbody tr').first()).toContainText('on → off');

  // The stale tab asks for Registration Features, which now need Service Ping: refused, said why.
  await stale.getByTestId('toggle-registration-features-save').click();
  await expect(stale.getByTestId('form-refused')).toContainText('turn on Service Ping first');
  await expect(stale.getByTestId('toggle-registration-features')).not.toBeChecked();

  await expect(page.getByTestId('toggle-service-ping-save')).toHaveText('Turn on');
  await page.getByTestId('toggle-service-ping-save').click();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Enabled');
  await expect(page.getByTestId('audit-log').locator('tbody tr').first()).toContainText('off → on');
  await context.close();
});

/** Turns Registration Features on or off with the switch's plain form: maintenance mode and
 *  password rules are paid features, open through the program while Service Ping is on. */
async function setRegistrationFeaturesWithoutJavaScript(page: Page, on: boolean) {
  await page.goto(USAGE_STATISTICS);
  await page.getByTestId('toggle-registration-features-save').click();
  const toggle = expect(page.getByTestId('toggle-registration-features'));
  await (on ? toggle.toBeChecked() : toggle.not.toBeChecked());
}

test('without JavaScript maintenance mode is turned on and off by its form, message kept', async ({ browser }) => {
  const context = await signedInWithoutJavaScript(browser);
  const page = await context.newPage();
  await setRegistrationFeaturesWithoutJavaScript(page, true);

  await page.goto(MAINTENANCE);
  await expect(page.getByTestId('maintenance-state')).toHaveText('Off');
  await expect(page.getByTestId('maintenance-save')).toBeHidden();
  await expect(page.getByTestId('maintenance-toggle')).toHaveText('Turn on');
  await page.getByTestId('maintenance-message').fill('Back at 18:00 UTC.');
  await page.getByTestId('maintenance-toggle').click();
  await expect.poll(() => new URL(page.url()).pathname).toBe(MAINTENANCE);
  await expect(page.getByTestId('maintenance-state')).toHaveText('On');
  await expect(page.getByTestId('maintenance-enabled')).toBeChecked();
  await expect(page.getByTestId('maintenance-banner')).toContainText('read-only');
  await expect(page.getByTestId('maintenance-message')).toHaveValue('Back at 18:00 UTC.');

  // Saving the message keeps the state; turning off keeps the message for next time.
  await page.getByTestId('maintenance-message').fill('Back at 19:00 UTC.');
  await page.getByTestId('maintenance-save-message').click();
  await expect(page.getByTestId('maintenance-state')).toHaveText('On');
  await expect(page.getByTestId('maintenance-message')).toHaveValue('Back at 19:00 UTC.');
  await expect(page.getByTestId('maintenance-toggle')).toHaveText('Turn off');
  await page.getByTestId('maintenance-toggle').click();
  await expect(page.getByTestId('maintenance-state')).toHaveText('Off');
  await expect(page.getByTestId('maintenance-banner')).toHaveCount(0);
  await expect(page.getByTestId('maintenance-message')).toHaveValue('Back at 19:00 UTC.');

  await setRegistrationFeaturesWithoutJavaScript(page, false);
  await context.close();
});

test('without JavaScript the password rules are saved by their form, cleared boxes included', async ({ browser }) => {
  const context = await signedInWithoutJavaScript(browser);
  const page = await context.newPage();
  await setRegistrationFeaturesWithoutJavaScript(page, true);

  await page.goto(PASSWORD_RULES);
  const save = () => page.getByTestId('password-rules-save').click();
  const length = page.getByTestId('password-minimum-length');
  const number = page.getByTestId('require-number');
  const symbol = page.getByTestId('require-symbol');
  // The stored rules are in the markup: what a post sends back unless the person changes it.
  const before = { length: await length.inputValue(), number: await number.isChecked(), symbol: await symbol.isChecked() };
  const longer = String(Number(before.length) + 2);
  await length.fill(longer);
  await number.setChecked(!before.number);
  await symbol.setChecked(!before.symbol);
  await save();
  await expect.poll(() => new URL(page.url()).pathname).toBe(PASSWORD_RULES);
  await expect(length).toHaveValue(longer);
  expect(await number.isChecked()).toBe(!before.number);
  expect(await symbol.isChecked()).toBe(!before.symbol);

  // Each box posts its hidden false, so clearing one and checking another both take.
  await number.setChecked(before.number);
  await save();
  await expect(length).toHaveValue(longer);
  expect(await number.isChecked()).toBe(before.number);
  expect(await symbol.isChecked()).toBe(!before.symbol);

  await symbol.setChecked(before.symbol);
  await length.fill(before.length);
  await save();
  await expect(length).toHaveValue(before.length);
  expect(await number.isChecked()).toBe(before.number);
  expect(await symbol.isChecked()).toBe(before.symbol);
  await setRegistrationFeaturesWithoutJavaScript(page, false);
  await context.close();
});

test('without JavaScript a banner is added and deleted, and an email sent, by their forms', async ({ browser }) => {
  const context = await signedInWithoutJavaScript(browser);
  const page = await context.newPage();
  await setRegistrationFeaturesWithoutJavaScript(page, true);

  await page.goto(ANNOUNCEMENTS);
  // An empty message is refused by the server, said above the form, and nothing is added.
  await page.getByTestId('banner-message').evaluate((box) => box.removeAttribute('required'));
  await page.getByTestId('banner-create').click();
  await expect(page.getByTestId('form-refused')).toContainText('The message must not be empty');
  const banners = page.getByTestId('banner-table').locator('tbody tr');
  const before = await banners.count();

  await page.getByTestId('banner-message').fill('Registry read-only tonight');
  await page.getByTestId('banner-theme').selectOption('warning');
  await page.getByTestId('banner-create').click();
  await expect.poll(() => new URL(page.url()).pathname).toBe(ANNOUNCEMENTS);
  await expect(page.getByTestId('announcement-banner')).toContainText(['Registry read-only tonight']);
  const added = banners.filter({ hasText: 'Registry read-only tonight' });
  await expect(added).toContainText('warning');
  await expect(banners).toHaveCount(before + 1);

  await page.getByTestId('email-subject').fill('Registry tonight');
  await page.getByTestId('email-body').fill('The registry is read-only from 20:00 UTC.');
  await page.getByTestId('email-send').click();
  await expect(page.getByTestId('email-table').locator('tbody tr').first()).toContainText('Registry tonight');

  await added.getByTestId('banner-delete').click();
  await expect(banners.filter({ hasText: 'Registry read-only tonight' })).toHaveCount(0);
  await expect(page.getByTestId('announcement-banner').filter({ hasText: 'Registry read-only tonight' })).toHaveCount(0);

  await setRegistrationFeaturesWithoutJavaScript(page, false);
  await context.close();
});

test('without JavaScript a token is revoked by its form, and creating one says it needs JavaScript', async ({ browser }) => {
  const signing = await browser.newContext();
  const withScript = await signing.newPage();
  await signInAsRoot(withScript, '/users/sign_in?redirect_to=/admin/access_tokens');
  await waitForHydration(withScript);
  await withScript.getByTestId('token-name').fill('revoked without script');
  await withScript.getByTestId('create-token').click();
  await expect(withScript.getByTestId('new-token-secret')).toHaveText(/^spat-/);
  const storageState = await signing.storageState();
  await signing.close();

  const context = await browser.newContext({ javaScriptEnabled: false, storageState });
  const page = await context.newPage();
  await page.goto('/admin/access_tokens');
  await expect(page.getByText('Creating a token needs JavaScript')).toBeVisible();
  const row = page.getByTestId('token-row').filter({ hasText: 'revoked without script' });
  await expect(row).toContainText('Active');
  await row.getByTestId('revoke-token').click();
  await expect.poll(() => new URL(page.url()).pathname).toBe('/admin/access_tokens');
  await expect(row).toContainText('Revoked');
  await expect(row.getByTestId('revoke-token')).toHaveCount(0);
  await context.close();
});
