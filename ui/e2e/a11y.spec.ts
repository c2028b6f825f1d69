/**
 * Automated accessibility checks (axe-core, WCAG 2.1 A/AA rules) on the
 * main screens, in light and dark themes and at phone width. Needs no other
 * spec: it signs up its own two users.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { newPerson, send, signUp } from './helpers';

async function violations(page: Page, exclude: string[] = []) {
  let b = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']);
  for (const e of exclude) b = b.exclude(e);
  const r = await b.analyze();
  return r.violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.nodes
        .map((n) => n.target.join(' '))
        .slice(0, 3)
        .join(', ')}`,
  );
}

for (const scheme of ['light', 'dark'] as const) {
  test(`no WCAG A/AA violations on the login, chat and settings screens (${scheme})`, async ({ browser }) => {
    const dee = await newPerson(browser, `dee${scheme[0]}`, 'Dee Axe', { colorScheme: scheme });
    const eve = await newPerson(browser, `eve${scheme[0]}`, 'Eve Axe', { colorScheme: scheme });
    try {
      await dee.page.goto('/');
      await expect(dee.page.getByRole('tab', { name: 'Log in' })).toBeVisible();
      expect(await violations(dee.page)).toEqual([]);

      await signUp(dee);
      await signUp(eve);
      const a = dee.page;
      await a.getByRole('button', { name: '+ New group' }).click();
      const dlg = a.getByRole('dialog', { name: 'New group' });
      await dlg.getByLabel('Group name').fill('Accessible room');
      await dlg.getByLabel('Add members').fill(eve.username);
      await dlg.getByRole('button', { name: /Eve Axe/ }).click();
      expect(await violations(a)).toEqual([]);
      await dlg.getByRole('button', { name: 'Create group' }).click();
      await send(a, 'Hello, see https://example.com');
      await expect(a.getByTestId('message')).toHaveCount(1);
      expect(await violations(a)).toEqual([]);

      await a.getByRole('button', { name: 'Room settings' }).click();
      await expect(a.getByRole('dialog', { name: 'Room settings' })).toBeVisible();
      expect(await violations(a)).toEqual([]);
      await a.keyboard.press('Escape');

      await a.setViewportSize({ width: 390, height: 844 });
      expect(await violations(a)).toEqual([]);
    } finally {
      await dee.context.close();
      await eve.context.close();
    }
  });
}
