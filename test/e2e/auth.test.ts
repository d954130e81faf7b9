// Accounts in a real browser: register, log out, log in, and the errors a person sees next to the fields.
import type { BrowserContext, Page } from 'playwright-core';
import { createSale, createUser, newContext, screenshot, useShop } from './support/shop';

const e2e = useShop();
let context: BrowserContext;
let page: Page;

beforeEach(async () => {
  context = await newContext(e2e.browser, 'narrow');
  page = await context.newPage();
});

afterEach(async () => {
  await context?.close();
});

async function loggedInAs(): Promise<string | null> {
  const who = page.locator('.site-header .who');
  return (await who.count()) ? (await who.innerText()).trim() : null;
}

it('when a person registers, logs out and logs in again, then the header follows each step', async () => {
  await page.goto(`${e2e.shop.base}/`);
  await page.getByRole('link', { name: 'Register' }).click();
  await page.getByLabel('User name').fill('ada_lovelace');
  await page.getByLabel('Nick name').fill('Ada');
  await page.getByLabel('Password').fill('analytical-engine');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${e2e.shop.base}/`);
  expect(await loggedInAs()).toBe('Hi, Ada');
  expect(await page.getByRole('link', { name: 'My orders' }).count()).toBe(1);

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${e2e.shop.base}/`);
  expect(await loggedInAs()).toBeNull();
  expect(await page.getByRole('link', { name: 'Log in' }).count()).toBe(1);

  await page.getByRole('link', { name: 'Log in' }).click();
  await page.getByLabel('User name').fill('ada_lovelace');
  await page.getByLabel('Password').fill('analytical-engine');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${e2e.shop.base}/`);
  expect(await loggedInAs()).toBe('Hi, Ada');
});

it('when the password is wrong, then the error is shown next to the field and the person stays logged out', async () => {
  const user = await createUser(e2e.shop.c, 'shopper', 'grace');
  await page.goto(`${e2e.shop.base}/user/login`);
  await page.getByLabel('User name').fill(user.userName);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();

  const password = page.getByLabel('Password');
  await page.locator('#password-error').waitFor();
  expect(await page.locator('#password-error').innerText()).toBe('Wrong user name or password.');
  expect(await password.getAttribute('aria-invalid')).toBe('true');
  expect(await password.getAttribute('aria-describedby')).toContain('password-error');
  expect(await password.inputValue()).toBe(''); // never echoed back
  expect(await page.getByLabel('User name').inputValue()).toBe(user.userName);
  expect(await loggedInAs()).toBeNull();
  expect((await context.cookies()).some((c) => c.name === 'sid')).toBe(false);
  await screenshot(page, 'login-wrong-password', 'narrow');
});

it('when the registration form is incomplete, then each error sits under its own field', async () => {
  await page.goto(`${e2e.shop.base}/user/register`);
  await page.getByLabel('User name').fill('x');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();

  await page.locator('#userName-error').waitFor();
  expect(await page.locator('#userName-error').innerText()).toBe('User name must be at least 3 characters');
  expect(await page.locator('#nickName-error').innerText()).toBe('Nick name is required');
  expect(await page.locator('#password-error').innerText()).toBe('Password must be at least 8 characters');
  // The first field at fault has the focus, so a keyboard user starts where the problem is.
  expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('userName');
  await screenshot(page, 'register-errors', 'narrow');
});

it('when a logged-out visitor presses "Log in to buy", then logging in brings them back to the sale, ready to buy', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 3 });
  const user = await createUser(e2e.shop.c, 'shopper', 'hedy');
  await page.goto(`${e2e.shop.base}/sales/${saleId}`);
  await page.locator('#sale[data-ready][data-phase="live"]').waitFor();
  expect(await page.locator('#login-note').isVisible()).toBe(true);
  await screenshot(page, 'sale-logged-out', 'narrow');
  await page.getByRole('button', { name: 'Log in to buy' }).click();
  await page.waitForURL(/\/user\/login\?next=/);
  await page.getByLabel('User name').fill(user.userName);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${e2e.shop.base}/sales/${saleId}`);
  await page.locator('#sale[data-ready][data-phase="live"]').waitFor();
  expect(await page.getByRole('button', { name: 'Buy now' }).isEnabled()).toBe(true);
  expect(await page.locator('#login-note').isHidden()).toBe(true);
});

it('when a person picks one of the most common passwords, then the form says so next to the password and no account is made', async () => {
  await page.goto(`${e2e.shop.base}/user/register`);
  await page.getByLabel('User name').fill('common_carla');
  await page.getByLabel('Nick name').fill('Carla');
  await page.getByLabel('Password').fill('password');
  await page.getByRole('button', { name: 'Create account' }).click();

  await page.locator('#password-error').waitFor();
  expect(await page.locator('#password-error').innerText()).toBe(
    'Password is one of the most common passwords, the first ones attackers try; choose another',
  );
  expect(await e2e.shop.c.services.accounts.findByUserName('common_carla')).toBeNull();
});

it('when many wrong passwords were tried on an account from elsewhere, then its owner still logs in: the browser does the check and the person only types the password again', async () => {
  const user = await createUser(e2e.shop.c, 'shopper', 'owner');
  for (const ip of ['198.51.100.1', '198.51.100.2']) {
    for (let i = 0; i < 10; i++) await e2e.shop.c.services.logins.logIn(user.userName, `guess ${i}`, ip);
  }
  await page.goto(`${e2e.shop.base}/user/login`);
  await page.getByLabel('User name').fill(user.userName);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();

  await page.locator('#password-error').waitFor();
  expect(await page.locator('#password-error').innerText()).toMatch(/your browser does a short check first/);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${e2e.shop.base}/`);
  expect(await loggedInAs()).toBe(`Hi, ${user.nickName}`);
});

it('when a person changes the password on the account page, then they stay logged in and the old password no longer works', async () => {
  const user = await createUser(e2e.shop.c, 'shopper', 'changer');
  await page.goto(`${e2e.shop.base}/user/login`);
  await page.getByLabel('User name').fill(user.userName);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${e2e.shop.base}/`);

  await page.getByRole('link', { name: `Hi, ${user.nickName}` }).click();
  await page.getByLabel('Current password').fill(user.password);
  await page.getByLabel('New password').fill('a fresh long secret');
  await page.getByRole('button', { name: 'Change password' }).click();

  await page.getByRole('status').waitFor();
  expect(await page.getByRole('status').innerText()).toBe('Your password is changed; your other logins have ended.');
  expect(await loggedInAs()).toBe(`Hi, ${user.nickName}`);
  expect(await e2e.shop.c.services.accounts.authenticate(user.userName, user.password)).toBeNull();
  await screenshot(page, 'account-password-changed', 'narrow');
});
