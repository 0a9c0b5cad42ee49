import { test, expect } from '@playwright/test';
import { createHash, createHmac } from 'node:crypto';
import { signInAsRoot, collectErrors } from './helpers';

// The secret start-server.sh configures; statuses are signed here as a secondary signs them
// (an HS256 JWT naming the site and the body's SHA-256), which also pins the token's format.
const SECRET = 'playwright-geo-secret-of-at-least-32-characters';

function token(site: string, body: string, secret = SECRET): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = part({ alg: 'HS256', typ: 'JWT' });
  const claims = part({
    sub: site, aud: 'service-ping-geo-status', iat: now, exp: now + 60,
    body_sha256: createHash('sha256').update(body).digest('hex'),
  });
  const signature = createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

function status(site: string, fetches: number, pushes: number): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    name: site, healthy: true, health: 'Healthy', version: '1.0.0', last_event_at: now, reported_at: now,
    usage: { collected_at: now, payload: { git_fetch_event_count_weekly: fetches, git_push_event_count_weekly: pushes } },
  });
}

test('the Geo sites page shows a reporting secondary healthy with its weekly Git traffic, and a silent one unhealthy', async ({ page, request }) => {
  const forged = status('site-b', 1, 1);
  const refused = await request.post('/api/v4/geo/status', {
    headers: { authorization: `Bearer ${token('site-b', forged, 'not-the-secret-not-the-secret-not-it')}`, 'content-type': 'application/json' },
    data: forged,
  });
  expect(refused.status()).toBe(401);
  const body = status('site-b', 30240, 3024);
  const accepted = await request.post('/api/v4/geo/status', {
    headers: { authorization: `Bearer ${token('site-b', body)}`, 'content-type': 'application/json' },
    data: body,
  });
  expect(accepted.status()).toBe(200);

  const errors = collectErrors(page);
  await signInAsRoot(page);
  await page.getByRole('link', { name: 'Geo sites' }).click();
  await expect(page).toHaveURL(/\/admin\/geo\/sites$/);
  await expect(page.getByRole('heading', { name: 'Secondary sites' })).toBeVisible();
  const siteB = page.locator('[data-testid="geo-site"][data-site="site-b"]');
  await expect(siteB.getByTestId('geo-health')).toHaveText('Healthy');
  await expect(siteB.getByTestId('geo-fetches')).toHaveText('30240');
  await expect(siteB.getByTestId('geo-pushes')).toHaveText('3024');
  await expect(siteB).toContainText('Version 1.0.0');
  const siteC = page.locator('[data-testid="geo-site"][data-site="site-c"]');
  await expect(siteC.getByTestId('geo-health')).toContainText('Unhealthy');
  await expect(siteC.getByTestId('geo-health')).toContainText('No status received yet');
  await expect(siteC.getByTestId('geo-fetches')).toHaveText('—');
  expect(errors).toEqual([]);
});
