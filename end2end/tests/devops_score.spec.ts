import { test, expect, Page } from '@playwright/test';
import { collectErrors, signInAsRoot, waitForHydration } from './helpers';

const DEVOPS = '/admin/dev_ops_reports';
const USAGE_STATISTICS = '/admin/application_settings/metrics_and_profiling';

async function open(page: Page, path: string) {
  await page.goto(path);
  await waitForHydration(page);
}

test('after Send now the DevOps Score page shows the score, ten features and a level', async ({ page }) => {
  const errors = collectErrors(page);
  await signInAsRoot(page, `/users/sign_in?redirect_to=${USAGE_STATISTICS}`);
  await waitForHydration(page);
  await page.getByTestId('send-now').click();
  await expect(page.getByTestId('generation-progress')).toContainText(/Sent: \d+ metrics/, { timeout: 30_000 });

  await open(page, DEVOPS);
  await expect(page.getByRole('heading', { name: 'DevOps Score' })).toBeVisible();
  await expect(page.getByTestId('overall-score')).toHaveText(/^\d+\.\d%$/);
  await expect(page.getByTestId('overall-level')).toHaveText(/^(Low|Moderate|High)$/);
  const rows = page.getByTestId('feature-row');
  await expect(rows).toHaveCount(10);
  await expect(rows.first()).toContainText('Issues');
  await expect(rows.nth(8)).toContainText('Monitoring');
  await expect(page.getByTestId('score-history').locator('tbody tr')).toHaveCount(1);
  const points = page.getByTestId('score-chart').getByTestId('chart-point');
  await expect(points).toHaveCount(1);
  const overall = (await page.getByTestId('overall-score').textContent())!.replace('%', '');
  expect(Number(await points.first().getAttribute('data-value')) / 10).toBeCloseTo(Number(overall), 1);

  // The collector's demo fleet (200 instances) is large enough to compare this instance with
  // organizations of its size, so neither a fallback nor a missing comparison is shown.
  const peers = page.getByTestId('peers');
  await expect(peers.getByRole('heading', { name: 'Organizations of your size' })).toBeVisible();
  await expect(page.getByTestId('cohort-label')).toHaveText(/active users/);
  await expect(page.getByTestId('cohort-fallback')).toHaveCount(0);
  expect(Number(await page.getByTestId('peer-count').textContent())).toBeGreaterThanOrEqual(10);
  await expect(page.getByTestId('overall-percentile')).toHaveText(/^\d+(st|nd|rd|th) percentile$/);
  const bars = page.getByTestId('percentile-bar');
  await expect(bars).toHaveCount(10);
  for (const bar of await bars.all()) {
    const percentile = Number(await bar.getAttribute('data-percentile'));
    expect(percentile).toBeGreaterThanOrEqual(0);
    expect(percentile).toBeLessThanOrEqual(100);
  }

  // Advice for the three weakest features, each concrete: a first step and where it starts.
  const advice = page.getByTestId('advice-item');
  await expect(advice).toHaveCount(3);
  const features = await advice.evaluateAll((items) => items.map((item) => item.getAttribute('data-feature')));
  expect(new Set(features).size).toBe(3);
  await expect(advice.first().getByText('First step')).toBeVisible();
  await expect(advice.first().getByText('Where it starts')).toBeVisible();
  await expect(advice.first().getByText('What leaders do')).toBeVisible();
  expect(errors).toEqual([]);
});

test('with Service Ping off the DevOps Score page says so and can turn it back on', async ({ page }) => {
  await signInAsRoot(page, `/users/sign_in?redirect_to=${USAGE_STATISTICS}`);
  await waitForHydration(page);
  await page.getByTestId('toggle-service-ping').uncheck();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Disabled');

  await open(page, DEVOPS);
  await expect(page.getByTestId('service-ping-off')).toContainText('Service Ping is off');
  await expect(page.getByTestId('feature-row')).toHaveCount(0);
  await page.getByTestId('turn-on-service-ping').click();
  await expect(page.getByTestId('overall-score')).toBeVisible();
  await expect(page.getByTestId('feature-row')).toHaveCount(10);
});
