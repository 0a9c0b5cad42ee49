import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectErrors, REGULAR, signIn, signInAsRoot, waitForHydration } from './helpers';

const USAGE_STATISTICS = '/admin/application_settings/metrics_and_profiling';
const ANNOUNCEMENTS = '/admin/broadcast_messages';

async function open(page: Page, path: string) {
  await page.goto(path);
  await waitForHydration(page);
}

test('Registration Features unlock announcements, and turning Service Ping off takes them away', async ({ page }) => {
  const errors = collectErrors(page);
  await signInAsRoot(page, `/users/sign_in?redirect_to=${ANNOUNCEMENTS}`);
  await waitForHydration(page);
  await expect(page.getByTestId('feature-locked')).toBeVisible();
  await expect(page.getByTestId('feature-locked-reason')).toContainText('Enable Registration Features');

  await open(page, USAGE_STATISTICS);
  const toggle = page.getByTestId('toggle-registration-features');
  await expect(toggle).toBeEnabled();
  await toggle.check();
  await expect(toggle).toBeChecked();

  await open(page, ANNOUNCEMENTS);
  await expect(page.getByTestId('feature-granted')).toContainText('Registration Features Program');
  await page.getByTestId('banner-message').fill('Planned upgrade on Friday at 18:00 UTC');
  await page.getByTestId('banner-theme').selectOption('warning');
  await page.getByTestId('banner-create').click();
  await expect(page.getByTestId('banner-table')).toContainText('Planned upgrade on Friday');
  await page.getByTestId('email-subject').fill('Upgrade on Friday');
  await page.getByTestId('email-body').fill('The platform will be read-only for an hour.');
  await page.getByTestId('email-send').click();
  const recipients = page.getByTestId('email-recipients').first();
  await expect(recipients).toHaveText(/^[1-9]\d*$/);
  await expect(page.getByTestId('email-delivered').first()).toHaveText(await recipients.innerText());
  await page.getByTestId('email-show-outbox').first().click();
  await expect(page.getByTestId('outbox').locator('li').first()).toContainText('Upgrade on Friday');

  // Every page shows the banner.
  await open(page, '/admin');
  await expect(page.getByTestId('announcement-banner')).toHaveText('Planned upgrade on Friday at 18:00 UTC');

  // Service Ping off: the switch greys out with the reason, and the feature is gone.
  await open(page, USAGE_STATISTICS);
  await page.getByTestId('toggle-service-ping').uncheck();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Disabled');
  await expect(toggle).toBeDisabled();
  await expect(toggle).not.toBeChecked();
  await expect(page.getByTestId('toggle-registration-features-disabled')).toContainText('turn on Service Ping first');
  await expect(page.getByTestId('audit-log')).toContainText('Enable Registration Features');

  await open(page, ANNOUNCEMENTS);
  await expect(page.getByTestId('feature-locked-reason')).toContainText('Service Ping, which is off');
  await expect(page.getByTestId('banner-message')).toHaveCount(0);
  await open(page, '/admin');
  await expect(page.getByTestId('announcement-banner')).toHaveCount(0);

  await open(page, USAGE_STATISTICS);
  await page.getByTestId('toggle-service-ping').check();
  await expect(page.getByTestId('service-ping-state')).toHaveText('Enabled');
  // The locked page's own data request is refused by the server (403): the check working.
  expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
});

test('a Premium license makes the instance EEP and opens the paid features, maintenance mode included', async ({ page }) => {
  const errors = collectErrors(page);
  const license = readFileSync(join(__dirname, '..', '.vendor', 'premium.license'), 'utf8');
  await signInAsRoot(page, '/users/sign_in?redirect_to=/admin/license');
  await waitForHydration(page);
  await expect(page.getByTestId('edition')).toHaveText('EE Free');
  await page.getByTestId('license-text').fill('not a license');
  await page.getByTestId('upload-license').click();
  await expect(page.getByRole('alert')).toContainText('This is not a license file');
  await page.getByTestId('license-text').fill(license);
  await page.getByTestId('upload-license').click();
  await expect(page.getByTestId('edition')).toHaveText('EEP');
  await expect(page.getByTestId('license-status')).toHaveText('In force');
  await expect(page.getByTestId('license-plan')).toHaveText('Premium');

  await open(page, USAGE_STATISTICS);
  await expect(page.getByTestId('registration-licensed')).toContainText('Premium license includes these features');

  await open(page, '/admin/devops_adoption');
  await expect(page.getByTestId('feature-granted')).toContainText('Included in your Premium license');
  await expect(page.getByTestId('adoption-month')).toHaveText(/^\d{4}-\d{2}$/);
  const rows = page.getByTestId('adoption-row');
  expect(await rows.count()).toBeGreaterThan(0);
  await expect(rows.first().getByTestId('adoption-count')).toHaveText(/^\d+\/10$/);

  await open(page, '/admin/user_permissions');
  const download = page.waitForEvent('download');
  await page.getByTestId('download-permissions').click();
  const file = await (await download).path();
  const csv = readFileSync(file!, 'utf8');
  expect(csv.split('\n')[0]).toBe('Username,Name,Email,State,Type,Path,Access level,Last activity');
  expect(csv.split('\n').length - 2).toBe(Number(await page.getByTestId('report-rows').innerText()));

  await open(page, '/admin/maintenance_mode');
  await page.getByTestId('maintenance-enabled').check();
  await page.getByTestId('maintenance-message').fill('Back at 18:00 UTC.');
  await page.getByTestId('maintenance-save').click();
  await expect(page.getByTestId('maintenance-state')).toHaveText('On');
  await open(page, '/admin/access_tokens');
  await expect(page.getByTestId('maintenance-banner')).toContainText('read-only');
  await page.getByTestId('token-name').fill('during maintenance');
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByRole('alert')).toContainText('maintenance mode');
  await open(page, '/admin/maintenance_mode');
  await page.getByTestId('maintenance-enabled').uncheck();
  await page.getByTestId('maintenance-save').click();
  await expect(page.getByTestId('maintenance-state')).toHaveText('Off');
  await open(page, '/admin/access_tokens');
  await expect(page.getByTestId('maintenance-banner')).toHaveCount(0);

  await open(page, '/admin/license');
  await page.getByTestId('remove-license').click();
  await expect(page.getByTestId('edition')).toHaveText('EE Free');
  await expect(page.getByTestId('no-license')).toBeVisible();
  // The refused upload (422) and the refused write (403) are the only failed requests.
  expect(errors.filter((e) => !/status of (422|403)/.test(e))).toEqual([]);
});

test('password rules set by an administrator apply when a person changes their password', async ({ browser }) => {
  const admin = await browser.newPage();
  await signInAsRoot(admin, `/users/sign_in?redirect_to=${USAGE_STATISTICS}`);
  await waitForHydration(admin);
  await admin.getByTestId('toggle-registration-features').check();
  await expect(admin.getByTestId('toggle-registration-features')).toBeChecked();
  await open(admin, '/admin/password_rules');
  await admin.getByTestId('password-minimum-length').fill('14');
  await admin.getByTestId('require-symbol').check();
  await admin.getByTestId('password-rules-save').click();
  await expect(admin.getByText('Saved. New passwords must follow these rules.')).toBeVisible();

  const person = await browser.newPage();
  await signIn(person, REGULAR.login, REGULAR.password, '/users/sign_in?redirect_to=/admin/password');
  await waitForHydration(person);
  await expect(person.getByTestId('password-rules-in-force')).toContainText('at least 14 characters');
  await expect(person.getByTestId('password-rules-in-force')).toContainText('a symbol');
  await person.getByTestId('current-password').fill(REGULAR.password);
  await person.getByTestId('new-password').fill('alllowercaseletters');
  await person.getByTestId('change-password').click();
  await expect(person.getByRole('alert')).toHaveText('The password must have an uppercase letter, a number, a symbol.');
  await person.getByTestId('new-password').fill('Rotated-Passw0rd-2026');
  await person.getByTestId('change-password').click();
  await expect(person.getByTestId('password-changed')).toBeVisible();

  // The program off: the basic rule again, so the person can go back to the old password.
  await open(admin, USAGE_STATISTICS);
  await admin.getByTestId('toggle-registration-features').uncheck();
  await expect(admin.getByTestId('toggle-registration-features')).not.toBeChecked();
  await open(person, '/admin/password');
  await expect(person.getByTestId('password-rules-in-force').locator('li')).toHaveCount(1);
  await person.getByTestId('current-password').fill('Rotated-Passw0rd-2026');
  await person.getByTestId('new-password').fill(REGULAR.password);
  await person.getByTestId('change-password').click();
  await expect(person.getByTestId('password-changed')).toBeVisible();
});
