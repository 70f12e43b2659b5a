// Journeys of the directory: a visitor looking for help near home, a hub correcting a place.

import { clickAndWait, expectPath, submitForm, text } from '../lib/outils.mjs';

// From the home page to a place near a commune: its address, phone number and opening hours.
export async function visiteur(ctx, page, { width }) {
  await page.goto(`${ctx.base}/`, { waitUntil: 'load' });
  await ctx.reached(page, 'accueil');
  await clickAndWait(page, page.locator('.fr-card__footer a[href="/lieux"]'));
  await expectPath(page, '/lieux');
  await ctx.reached(page, 'trouver un lieu', { action: true });
  await page.fill('#q', width < 992 ? 'Pessac' : 'Bordeaux');
  await submitForm(page, '#q');
  const heading = await text(page, '#resultats');
  if (!/lieux? trouvés?/.test(heading)) throw new Error(`results heading: ${JSON.stringify(heading)}`);
  await ctx.reached(page, 'résultats de recherche', { action: true });
  // One Tab from the results' heading reaches the first place.
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => !!(document.activeElement && document.activeElement.closest('.fr-card__title')));
  if (!first) throw new Error('one Tab after the search does not reach the first place');
  await clickAndWait(page, page.locator('.fr-card__title a'));
  if (!new URL(page.url()).pathname.startsWith('/lieux/')) throw new Error(`the first result led to ${page.url()}`);
  const place = await text(page);
  if (!place.includes('Horaires')) throw new Error('the place page shows no opening hours');
  await ctx.reached(page, 'page d’un lieu', { action: true });
  return `found « ${(await text(page, 'h1')).trim()} » from the home page`;
}

// The hub: its territory, a place to check, a correction proposed.
export async function hub(ctx, page, { width }) {
  await ctx.signIn(page, 'hub@demo.passerelle.fr');
  await ctx.reached(page, 'hub connecté', { action: true });
  await ctx.viaMenu(page, '/hub/territoire');
  await ctx.reached(page, 'mon territoire', { action: true });
  await clickAndWait(page, page.locator('main a[href="/hub/territoire/lieux-a-verifier"]'));
  await ctx.reached(page, 'lieux à vérifier', { action: true });
  const propose = page.locator('main a[href^="/hub/lieux/"][href$="/correction"]');
  if ((await propose.count()) === 0) throw new Error('no place to check on the hub\'s territory');
  await clickAndWait(page, propose);
  await ctx.reached(page, 'proposer une correction', { action: true });
  const field = page.locator('main form input.fr-input[type=text]').first();
  const name = await field.getAttribute('name');
  await field.fill(`${(await field.inputValue()) || 'Valeur'} (vérifié ${width})`);
  await page.fill('#commentaire', 'Constaté sur place lors de la tournée du hub.');
  await submitForm(page, '#commentaire');
  const said = await text(page);
  if (!/correction/i.test(said) || /refusée/.test(said)) throw new Error(`after « Proposer la correction »: ${said.slice(0, 300)}`);
  await ctx.reached(page, 'correction proposée', { action: true });
  await page.goto(`${ctx.base}/hub/corrections`, { waitUntil: 'load' });
  await ctx.reached(page, 'corrections proposées par le hub');
  return `proposed a correction of « ${name} » of a place to check`;
}
