import { test, expect } from '@playwright/test';
import { collectErrors, rootPassword, REGULAR, signIn, signInAsRoot, waitForHydration } from './helpers';

test('the health endpoint reports the database as up', async ({ request }) => {
  const response = await request.get('/-/health');
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: 'ok', database: 'ok' });
});

test('a signed-out visit to an admin page goes to sign-in and comes back after it', async ({ page }) => {
  await page.goto('/admin?tab=facts');
  await expect(page).toHaveURL(/\/users\/sign_in\?redirect_to=\/admin%3Ftab%3Dfacts$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel('Username or email').fill('root');
  await page.getByLabel('Password', { exact: true }).fill(rootPassword());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin\?tab=facts$/);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
});

test('a wrong password shows an error and stays on the sign-in page', async ({ page }) => {
  await signIn(page, 'root', 'not-the-password');
  await expect(page.getByRole('alert')).toHaveText('Invalid login or password.');
  await expect(page).toHaveURL(/\/users\/sign_in/);
});

test('the right password reaches the overview with the instance facts', async ({ page }) => {
  const errors = collectErrors(page);
  await signInAsRoot(page);
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('instance-uuid')).toHaveText(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await expect(page.getByText('EE Free')).toBeVisible();
  // `make e2e` runs the instance on PostgreSQL; by hand it may run on the embedded SQLite.
  const database = process.env.SERVICE_PING_TEST_POSTGRES_URL ? /^postgresql \d+\.\d+/ : /^sqlite 3\.\d+/;
  await expect(page.getByText(database)).toBeVisible();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Enabled');
  await expect(page.getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page');
  expect(errors).toEqual([]);
});

test('signing out ends the session', async ({ page }) => {
  await signInAsRoot(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/users\/sign_in$/);
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/users\/sign_in\?redirect_to=\/admin$/);
});

test('a server function called without a session answers 401', async ({ request }) => {
  const response = await request.post('/api/instance_overview', { data: '' });
  expect(response.status()).toBe(401);
  expect(await response.json()).toEqual('Unauthorized');
});

test('a regular account is refused the admin area and its server functions', async ({ page }) => {
  await signIn(page, REGULAR.login, REGULAR.password);
  await expect(page.getByRole('heading', { name: 'Access denied' })).toBeVisible();
  await expect(page.getByText('You need administrator access for this.')).toBeVisible();
  const response = await page.request.post('/api/instance_overview', { data: '' });
  expect(response.status()).toBe(403);
});

test('repeated failures are throttled with a clear message', async ({ page }) => {
  await page.goto('/users/sign_in');
  await waitForHydration(page);
  for (let attempt = 1; attempt <= 6; attempt++) {
    await page.getByLabel('Username or email').fill('mallory');
    await page.getByLabel('Password', { exact: true }).fill(`guess-${attempt}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const expected = attempt <= 5 ? 'Invalid login or password.' : /^Too many failed sign-in attempts\. Try again in 1[45] minutes\.$/;
    await expect(page.getByRole('alert')).toHaveText(expected);
  }
});

test('the release build hydrates: the password toggle works and the console stays clean', async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto('/users/sign_in');
  await waitForHydration(page);
  const password = page.getByLabel('Password', { exact: true });
  await password.fill('visible?');
  await expect(password).toHaveAttribute('type', 'password');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(password).toHaveAttribute('type', 'text');
  await page.getByRole('button', { name: 'Hide' }).click();
  await expect(password).toHaveAttribute('type', 'password');
  expect(errors).toEqual([]);
});

test('on a small screen the menu button opens the navigation', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 800 });
  await signInAsRoot(page);
  const nav = page.getByRole('navigation');
  await expect(nav).toBeHidden();
  await page.getByRole('button', { name: 'Menu' }).click();
  await expect(nav).toBeVisible();
  await expect(page.getByRole('button', { name: 'Menu' })).toHaveAttribute('aria-expanded', 'true');
});

test('pages carry security headers with a nonce-based script policy', async ({ request }) => {
  const response = await request.get('/users/sign_in');
  const headers = response.headers();
  expect(headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=_-]+' 'wasm-unsafe-eval'/);
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
});

test('signing in sets an HttpOnly, SameSite=Strict session cookie', async ({ request }) => {
  const response = await request.post('/api/sign_in', { form: { login: 'root', password: rootPassword() } });
  expect(response.status()).toBe(200);
  const cookie = response.headers()['set-cookie'];
  expect(cookie).toMatch(/^_service_ping_session=/);
  expect(cookie).toContain('HttpOnly');
  expect(cookie).toContain('SameSite=Strict');
});
