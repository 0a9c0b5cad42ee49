import { test, expect, Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { collectErrors, signInAsRoot, waitForHydration } from './helpers';

const USAGE_STATISTICS = '/admin/application_settings/metrics_and_profiling';
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Opens the Usage statistics page signed in, with at least one stored payload. */
async function openUsageStatistics(page: Page) {
  await signInAsRoot(page, `/users/sign_in?redirect_to=${USAGE_STATISTICS}`);
  await expect(page.getByRole('heading', { name: 'Usage statistics' })).toBeVisible();
  await waitForHydration(page);
  if (await page.getByTestId('no-payload').isVisible()) {
    await page.getByTestId('generate-preview').click();
    await expect(page.getByTestId('recorded-at')).toBeVisible({ timeout: 30_000 });
  }
}

test('generating a new preview shows progress, then the new payload', async ({ page }) => {
  const errors = collectErrors(page);
  await openUsageStatistics(page);
  const before = await page.getByTestId('recorded-at').getAttribute('datetime');
  await page.getByTestId('generate-preview').click();
  const progress = page.getByTestId('generation-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText(/(Generating|Generated): \d+ of \d+ metrics/);
  await expect(page.getByTestId('recorded-at')).not.toHaveAttribute('datetime', before!, { timeout: 30_000 });
  await expect(progress).toContainText(/Generated: (\d+) of \1 metrics/);
  // People read when it was; the exact time is in the element and on hover.
  const recordedAt = page.getByTestId('recorded-at');
  await expect(recordedAt).toHaveText('just now');
  await expect(recordedAt).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  await expect(recordedAt).toHaveAttribute('title', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  await expect(page.getByTestId('generate-preview')).toBeEnabled();
  expect(errors).toEqual([]);
});

test('the preview shows the payload and its hash, and the raw bytes hash to it', async ({ page }) => {
  await openUsageStatistics(page);
  const shown = (await page.getByTestId('payload-sha256').textContent())!;
  expect(shown).toMatch(/^[0-9a-f]{64}$/);
  const tree = page.getByTestId('json-tree');
  await expect(tree.locator('[data-key-path="counts.issues"]')).toBeVisible();
  await expect(tree.locator('[data-key-path="uuid"]')).toContainText(/"[0-9a-f-]{36}"/);
  await expect(page.getByTestId('sent-state')).toHaveText('Not sent: a preview is never sent');

  await page.getByTestId('raw-tab').click();
  const raw = page.getByTestId('payload-raw');
  await expect(raw).toBeVisible();
  const text = await raw.evaluate((pre) => pre.textContent ?? '');
  expect(sha256(text)).toBe(shown);
});

test('the download is exactly the stored bytes', async ({ page }) => {
  await openUsageStatistics(page);
  const shown = (await page.getByTestId('payload-sha256').textContent())!;
  const recordedAt = (await page.getByTestId('recorded-at').getAttribute('datetime'))!;
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('download-payload').click(),
  ]);
  const file = readFileSync((await download.path())!);
  expect(sha256(file)).toBe(shown);
  const payload = JSON.parse(file.toString('utf8'));
  expect(payload.recorded_at).toBe(recordedAt);
  expect(download.suggestedFilename()).toBe(`service_ping_${payload.uuid}_${recordedAt.replaceAll(':', '-')}.json`);
});

test('the key search narrows the tree to matching keys, and folding works', async ({ page }) => {
  await openUsageStatistics(page);
  const tree = page.getByTestId('json-tree');
  await page.getByTestId('key-search').fill('counts_monthly.deployments');
  await expect(page.getByTestId('match-count')).toHaveText('1 key');
  await expect(tree.locator('[data-key-path="counts_monthly.deployments"]')).toBeVisible();
  await expect(tree.locator('[data-key-path="counts.issues"]')).toBeHidden();
  await expect(tree.locator('[data-key-path="uuid"]')).toBeHidden();

  await page.getByTestId('key-search').fill('');
  await expect(tree.locator('[data-key-path="uuid"]')).toBeVisible();
  await page.getByRole('button', { name: 'Collapse all' }).click();
  await expect(tree.locator('[data-key-path="counts.issues"]')).toBeHidden();
  await page.getByRole('button', { name: 'Expand all' }).click();
  await expect(tree.locator('[data-key-path="counts.issues"]')).toBeVisible();
});

test('copy puts the exact payload on the clipboard', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openUsageStatistics(page);
  const shown = (await page.getByTestId('payload-sha256').textContent())!;
  await page.getByTestId('copy-payload').click();
  await expect(page.getByTestId('copy-payload')).toHaveText('Copied');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(sha256(copied)).toBe(shown);
});

test('the metric dictionary explains every metric and sorts the slowest first', async ({ page }) => {
  await openUsageStatistics(page);
  await page.getByRole('link', { name: 'Metric dictionary' }).click();
  await expect(page.getByRole('heading', { name: 'Metric dictionary' })).toBeVisible();
  const count = page.getByTestId('metric-count');
  await expect(count).toHaveText(/^(\d+) of \1 metrics$/);
  const total = Number((await count.textContent())!.split(' ')[0]);
  expect(total).toBeGreaterThanOrEqual(150);

  const issues = page.locator('tr[data-key-path="counts.issues"]');
  await expect(issues).toContainText('Count of issues, all time');
  await expect(issues).toContainText('operational');
  await expect(issues.locator('td.numeric code')).toHaveText(/^\d+$/);

  await page.getByTestId('metric-search').fill('counts_weekly');
  await expect(count).toHaveText(new RegExp(`^\\d+ of ${total} metrics$`));
  await expect(page.locator('tr[data-key-path="counts.issues"]')).toHaveCount(0);
  await page.getByTestId('metric-search').fill('');

  await page.getByTestId('metric-sort').selectOption('slowest');
  const micros = (text: string) => {
    const [value, unit] = text.trim().split(' ');
    return unit === 's' ? Number(value) * 1e6 : unit === 'ms' ? Number(value) * 1e3 : unit === 'µs' ? Number(value) : -1;
  };
  const durations = (await page.getByTestId('metric-duration').allTextContents()).map(micros);
  expect(durations.length).toBe(total);
  expect(durations[0]).toBeGreaterThan(0);
  for (let i = 1; i < durations.length; i++) expect(durations[i]).toBeLessThanOrEqual(durations[i - 1]);
});

test('the overview shows the latest payload', async ({ page }) => {
  await openUsageStatistics(page);
  const recordedAt = (await page.getByTestId('recorded-at').getAttribute('datetime'))!;
  await page.getByRole('link', { name: 'Overview' }).click();
  await expect(page.getByTestId('latest-recorded-at')).toHaveAttribute('datetime', recordedAt);
});

test('the database facts show the backend, and a PostgreSQL system id keeps all 64 bits', async ({ page }) => {
  await openUsageStatistics(page);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('download-payload').click(),
  ]);
  // Read as text: JSON.parse would round an integer past 2^53, which is the point of the test.
  const text = readFileSync((await download.path())!).toString('utf8');
  const adapter = text.match(/"adapter": "(\w+)"/)![1];
  const systemId = text.match(/"pg_system_id": (\d+|null)/)![1];
  const tree = page.getByTestId('json-tree');
  await expect(tree.locator('[data-key-path="database.adapter"]')).toContainText(`"${adapter}"`);
  if (process.env.SERVICE_PING_TEST_POSTGRES_URL) {
    // `make e2e` runs the instance on PostgreSQL: its identifier is a 64-bit number.
    expect(adapter).toBe('postgresql');
    expect(systemId).toMatch(/^\d{16,20}$/);
    expect(BigInt(systemId) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  }
  const shown = await tree.locator('[data-key-path="database.pg_system_id"]').textContent();
  expect(shown).toContain(systemId);
});
