import { expect, Page, ConsoleMessage } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The password start-server.sh's fresh instance generated for `root`. */
export function rootPassword(): string {
  const text = readFileSync(join(__dirname, '..', '.data', 'initial_root_password'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('Password: '));
  if (!line) throw new Error('initial_root_password has no Password line');
  return line.slice('Password: '.length).trim();
}

export const REGULAR = { login: 'regular', password: 'regular-user-password' };

/** Collects console errors and uncaught exceptions, so a test can assert there were none. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Waits until the wasm bundle has taken over the page. */
export async function waitForHydration(page: Page) {
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true');
}

export async function signIn(page: Page, login: string, password: string, path = '/users/sign_in') {
  await page.goto(path);
  await waitForHydration(page);
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function signInAsRoot(page: Page, path?: string) {
  await signIn(page, 'root', rootPassword(), path);
  await expect(page.getByTestId('signed-in-as')).toHaveText('Administrator');
}
