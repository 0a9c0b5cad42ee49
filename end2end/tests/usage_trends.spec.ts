import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { collectErrors, signInAsRoot, waitForHydration } from './helpers';

const TRENDS = '/admin/usage_trends';

async function openTrends(page: Page) {
  await signInAsRoot(page, `/users/sign_in?redirect_to=${TRENDS}`);
  await expect(page.getByRole('heading', { name: 'Usage trends' })).toBeVisible();
  await waitForHydration(page);
}

/** The values a chart's points carry, series by series. */
async function pointValues(page: Page, chart: string, series: number): Promise<string[]> {
  return page.getByTestId(chart).locator(`[data-testid="chart-point"][data-series="${series}"]`)
    .evaluateAll((points) => points.map((p) => p.getAttribute('data-value') ?? ''));
}

test('the charts show one point per month of the range, and changing the range redraws them', async ({ page }) => {
  const errors = collectErrors(page);
  await openTrends(page);
  await expect(page.getByTestId('trend-total')).toHaveCount(14);
  for (const chart of ['chart-0', 'chart-1', 'chart-2', 'chart-3']) {
    await expect(page.getByTestId(chart).locator('[data-testid="chart-point"][data-series="0"]')).toHaveCount(12);
  }
  const months = await page.getByTestId('chart-0').locator('[data-series="0"]')
    .evaluateAll((points) => points.map((p) => p.getAttribute('data-category')));
  expect(new Set(months).size).toBe(12);

  await page.getByTestId('trend-range').selectOption('6');
  await expect(page.getByTestId('chart-0').locator('[data-testid="chart-point"][data-series="0"]')).toHaveCount(6);
  await expect(page.getByTestId('chart-3').locator('[data-testid="chart-point"][data-series="2"]')).toHaveCount(6);
  expect(errors).toEqual([]);
});

test('hovering a point shows its exact value and month', async ({ page }) => {
  await openTrends(page);
  const point = page.getByTestId('chart-0').locator('[data-testid="chart-point"][data-series="0"]').last();
  const value = Number(await point.getAttribute('data-value'));
  const month = (await point.getAttribute('data-category'))!;
  await point.hover();
  const tooltip = page.getByTestId('chart-0').getByTestId('chart-tooltip');
  await expect(tooltip).toBeVisible();
  await expect(tooltip).toContainText(`Projects · ${month}: ${value.toLocaleString('en').replace(/,/g, '\u202f')}`);
  await page.mouse.move(0, 0);
  await expect(tooltip).toHaveCount(0);
});

test('each chart\'s table view and CSV hold the numbers the chart draws', async ({ page }) => {
  await openTrends(page);
  const chart = page.getByTestId('chart-1');
  await chart.getByText('Table view').click();
  const table = chart.getByTestId('chart-table');
  await expect(table).toBeVisible();
  const column = await table.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => (r.querySelectorAll('td')[0]?.textContent ?? '').replace(/\u202f/g, '')));
  expect(column).toEqual(await pointValues(page, 'chart-1', 0));

  const [download] = await Promise.all([page.waitForEvent('download'), chart.getByTestId('chart-csv').click()]);
  const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n');
  expect(lines[0]).toBe('month,pipelines,pipelines_succeeded,pipelines_failed,pipelines_canceled,pipelines_skipped');
  expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual(await pointValues(page, 'chart-1', 0));
});

test('the overview shows activity sparklines with the key totals', async ({ page }) => {
  await signInAsRoot(page);
  await waitForHydration(page);
  const rows = page.getByTestId('activity-row');
  await expect(rows).toHaveCount(5);
  await expect(rows.first()).toContainText('Users');
  await expect(rows.first().locator('svg.sparkline polyline')).toHaveCount(1);
});
