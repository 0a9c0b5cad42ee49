import { test, expect, Page } from '@playwright/test';
import { collectErrors, signInAsRoot, waitForHydration } from './helpers';

const USAGE_STATISTICS = '/admin/application_settings/metrics_and_profiling';
const HISTORY = '/admin/service_ping/history';

async function openUsageStatistics(page: Page) {
  await signInAsRoot(page, `/users/sign_in?redirect_to=${USAGE_STATISTICS}`);
  await expect(page.getByRole('heading', { name: 'Usage statistics' })).toBeVisible();
  await waitForHydration(page);
}

async function sendNow(page: Page) {
  await page.getByTestId('send-now').click();
  const progress = page.getByTestId('generation-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText(/Sent: \d+ metrics/, { timeout: 30_000 });
  await expect(page.getByTestId('sent-state')).toContainText(/collector id \d+/);
}

test('Service Ping can be turned off and on, and the choice persists and is audited', async ({ page }) => {
  const errors = collectErrors(page);
  await openUsageStatistics(page);
  const toggle = page.getByTestId('toggle-service-ping');
  await expect(toggle).toBeChecked();
  await expect(page.getByTestId('send-now')).toBeEnabled();

  await toggle.uncheck();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Disabled');
  await expect(page.getByTestId('next-send')).toHaveText('Not scheduled: Service Ping is off');
  await expect(page.getByTestId('send-now')).toBeDisabled();
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('toggle-service-ping')).not.toBeChecked();
  await expect(page.getByTestId('audit-log').locator('tbody tr').first()).toContainText('Enable Service Ping');
  await expect(page.getByTestId('audit-log').locator('tbody tr').first()).toContainText('on → off');

  await page.getByTestId('toggle-service-ping').check();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Enabled');
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('toggle-service-ping')).toBeChecked();
  await expect(page.getByTestId('next-send')).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT/);
  await expect(page.getByTestId('next-send')).toHaveText(/^in \d+ (minute|hour|day)s?$/);
  expect(errors).toEqual([]);
});

test('a setting locked by the operator is greyed out with its reason', async ({ page }) => {
  await openUsageStatistics(page);
  await expect(page.getByTestId('toggle-optional-data')).toBeDisabled();
  await expect(page.getByTestId('toggle-optional-data-lock')).toHaveText(
    'Locked by the operator: set by the environment variable SERVICE_PING__SERVICE_PING__INCLUDE_OPTIONAL_DATA',
  );
});

test('Send now ends with a history row whose hash is the preview\'s', async ({ page }) => {
  await openUsageStatistics(page);
  await sendNow(page);
  const shown = (await page.getByTestId('payload-sha256').textContent())!;
  expect(shown).toMatch(/^[0-9a-f]{64}$/);

  await page.goto(HISTORY);
  await waitForHydration(page);
  const first = page.getByTestId('history-row').first();
  await expect(first.getByTestId('row-sha256')).toHaveAttribute('data-sha256', shown);
  await expect(first.getByTestId('row-status')).toHaveText('sent');
  await expect(first.getByTestId('row-trigger')).toHaveText('manual by root');

  // The payload's own page lists the attempt the collector accepted.
  await first.getByRole('link').first().click();
  await expect(page.getByTestId('submissions')).toContainText(`sent · collector confirmed ${shown}`);
  await expect(page.getByTestId('submissions')).toContainText('201');
  await expect(page.getByTestId('payload-sha256')).toHaveText(shown);
});

test('delivery health shows the last success, and Test connection asks the collector and is audited', async ({ page }) => {
  const errors = collectErrors(page);
  await openUsageStatistics(page);
  // "Send now ends with a history row" ran before: a payload has reached the collector.
  await expect(page.getByTestId('last-success')).toHaveAttribute('datetime', /^\d{4}-\d{2}-\d{2}T/);
  await expect(page.getByTestId('failure-streak')).toHaveCount(0);
  await page.getByTestId('test-connection').click();
  await expect(page.getByTestId('connection-result')).toHaveText(/^Reachable: HTTP 200 in \d+ ms$/);
  await page.reload();
  await waitForHydration(page);
  const newest = page.getByTestId('audit-log').locator('tbody tr').first();
  await expect(newest).toContainText('Collector connection test');
  await expect(newest).toContainText('Reachable: HTTP 200');
  expect(errors).toEqual([]);
});

test('the diff view lists what changed between two payloads', async ({ page }) => {
  await openUsageStatistics(page);
  await sendNow(page);
  await page.goto(HISTORY);
  await waitForHydration(page);
  await expect(page.getByTestId('history-row').nth(1)).toBeVisible();
  await page.getByTestId('compare').click();
  await expect(page.getByRole('heading', { name: 'Compare payloads' })).toBeVisible();
  await expect(page.getByTestId('diff-summary')).toContainText(/\d+ added, \d+ removed, \d+ changed, \d+ unchanged/);
  const changed = page.getByTestId('diff-changed');
  await expect(changed.locator('tr', { hasText: 'recorded_at' })).toHaveCount(1);
  await expect(changed.locator('tr', { hasText: 'recorded_at' }).locator('td').nth(1)).toContainText(/"\d{4}-/);
});

test('the first administrator sees the Service Ping notice once, dismissed even without JavaScript', async ({ browser, page }) => {
  await signInAsRoot(page);
  await waitForHydration(page);
  await expect(page.getByTestId('service-ping-notice')).toContainText('Service Ping is on');

  // Dismiss is a form: a browser without JavaScript posts it and is sent back to the page.
  const noScript = await browser.newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
  const plain = await noScript.newPage();
  await plain.goto(HISTORY);
  await expect(plain.getByTestId('service-ping-notice')).toContainText('Service Ping is on');
  await plain.getByTestId('dismiss-notice').click();
  await expect.poll(() => new URL(plain.url()).pathname).toBe(HISTORY);
  await expect(plain.getByRole('heading', { name: 'Payload history' })).toBeVisible();
  await expect(plain.getByTestId('service-ping-notice')).toHaveCount(0);
  await noScript.close();

  await page.reload();
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('service-ping-notice')).toHaveCount(0);
});

test('an access token is shown once and reads the latest payload through the API', async ({ page, request }) => {
  await signInAsRoot(page, '/users/sign_in?redirect_to=/admin/access_tokens');
  await expect(page.getByRole('heading', { name: 'Access tokens' })).toBeVisible();
  await waitForHydration(page);
  await page.getByTestId('token-name').fill('nightly export');
  await page.getByTestId('create-token').click();
  const secret = (await page.getByTestId('new-token-secret').textContent())!;
  expect(secret).toMatch(/^spat-[0-9a-f]{64}$/);
  await expect(page.getByTestId('token-row')).toContainText(['nightly export']);

  const ok = await request.get('/api/v4/usage_data/service_ping', { headers: { 'PRIVATE-TOKEN': secret } });
  expect(ok.status()).toBe(200);
  const payload = await ok.json();
  expect(payload.uuid).toMatch(/^[0-9a-f-]{36}$/);
  expect((await request.get('/api/v4/usage_data/service_ping')).status()).toBe(401);

  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('new-token-secret')).toHaveCount(0);
  await page.getByTestId('revoke-token').first().click();
  await expect(page.getByTestId('token-row').first()).toContainText('Revoked');
  const revoked = await request.get('/api/v4/usage_data/service_ping', { headers: { 'PRIVATE-TOKEN': secret } });
  expect(revoked.status()).toBe(401);
});
