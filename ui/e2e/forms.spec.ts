/**
 * Form details seen in use (issue 15): sign-up errors tied to their field,
 * and the room owner's hint agreeing with the "Owner (transfer)" option.
 */
import { expect, test } from '@playwright/test';
import { newPerson, PASSWORD, signUp } from './helpers';

test('sign-up errors are tied to their field (aria-invalid, aria-describedby), from the client and the server', async ({
  browser,
}) => {
  const taken = await newPerson(browser, 'taken', 'Taken Name');
  await signUp(taken);
  const p = await newPerson(browser, 'fresh', 'Fresh Face');
  const page = p.page;
  try {
    await page.goto('/');
    await page.getByRole('tab', { name: 'Sign up' }).click();
    const user = page.getByLabel('Username');
    const name = page.getByLabel('Display name');
    const pass = page.getByLabel('Password');
    const submit = page.getByRole('button', { name: 'Create account' });
    const describedBy = async (field: typeof user) => {
      const ids = (await field.getAttribute('aria-describedby')) ?? '';
      return Promise.all(ids.split(' ').map((id) => page.locator(`[id="${id}"]`).textContent()));
    };

    // Checked in the browser: a bad username.
    await user.fill('No Spaces!');
    await name.fill(p.name);
    await pass.fill(PASSWORD);
    await submit.click();
    await expect(user).toHaveAttribute('aria-invalid', 'true');
    await expect(user).toBeFocused();
    expect(await describedBy(user)).toEqual(['Usernames are 3–32 characters: lowercase letters, digits and _.']);
    await expect(pass).not.toHaveAttribute('aria-invalid');

    // A short password: the error and the hint both describe the field.
    await user.fill(p.username);
    await pass.fill('short');
    await submit.click();
    await expect(pass).toHaveAttribute('aria-invalid', 'true');
    await expect(user).not.toHaveAttribute('aria-invalid');
    expect(await describedBy(pass)).toEqual(['At least 8 characters.', 'Passwords need at least 8 characters.']);

    // Refused by the server: a taken username (409) is the username's error.
    await user.fill(taken.username);
    await pass.fill(PASSWORD);
    await submit.click();
    await expect(user).toHaveAttribute('aria-invalid', 'true');
    expect(await describedBy(user)).toEqual(['That username is taken. Try another one.']);

    // Refused by the server: a common password (INVALID_INPUT about "password").
    await user.fill(p.username);
    await pass.fill('password123');
    await submit.click();
    await expect(pass).toHaveAttribute('aria-invalid', 'true');
    expect((await describedBy(pass)).join(' ')).toMatch(/common passwords/);
    await expect(user).not.toHaveAttribute('aria-invalid');
  } finally {
    await taken.context.close();
    await p.context.close();
  }
});

test('the owner hint agrees with the "Owner (transfer)" option beside it', async ({ browser }) => {
  const own = await newPerson(browser, 'own', 'Owen Owner');
  const mem = await newPerson(browser, 'mem', 'Mel Member');
  try {
    await signUp(own);
    await signUp(mem);
    const a = own.page;
    await a.getByRole('button', { name: '+ New group' }).click();
    const nd = a.getByRole('dialog', { name: 'New group' });
    await nd.getByLabel('Group name').fill('Owned');
    await nd.getByRole('button', { name: 'Create group' }).click();
    await a.getByRole('button', { name: 'Room settings' }).click();
    const dlg = a.getByRole('dialog', { name: 'Room settings' });
    // Alone: deleting is the only way out.
    await expect(dlg.getByTestId('owner-hint')).toHaveText(
      'As the only member you cannot leave; delete the room instead.',
    );
    await dlg.getByLabel('Add a member').fill(mem.username);
    await dlg.getByRole('button', { name: new RegExp(mem.name) }).click();
    await expect(dlg.getByRole('combobox', { name: `Role of ${mem.name}` })).toBeVisible();
    await expect(dlg.getByRole('option', { name: 'Owner (transfer)' })).toHaveCount(1);
    // With another member the hint names the transfer rather than denying it.
    await expect(dlg.getByTestId('owner-hint')).toContainText('Owner (transfer)');
    await expect(dlg.getByTestId('owner-hint')).not.toContainText('delete the room instead');
  } finally {
    await own.context.close();
    await mem.context.close();
  }
});
