// Journeys of Aidants Connect: the référent invites an aidant, the aidant concludes a mandate
// for a person identified with FranceConnect, the person (usager) sees and revokes it.

import { clickAndWait, expectPath, submitForm, text } from '../lib/outils.mjs';

// The référent invites a new aidant into the structure.
export async function referent(ctx, page, { width }) {
  await ctx.signIn(page, 'referent@demo.passerelle.fr');
  await ctx.reached(page, 'référent connecté', { action: true });
  await ctx.viaMenu(page, '/aidants-connect/referent');
  await ctx.reached(page, 'mes aidants', { action: true });
  await page.fill('#nom', `Claire Nouvelle-Aidante ${width}`);
  await page.fill('#email', `claire.${width}@exemple.fr`);
  await submitForm(page, '#nom');
  await ctx.freshCode(page, 'referent@demo.passerelle.fr');
  const said = await text(page);
  if (!said.includes(`claire.${width}@exemple.fr`) || /Erreur/.test(said)) throw new Error(`after « Inviter »: ${said.slice(0, 300)}`);
  await ctx.reached(page, 'aidant invité', { action: true });
  return 'a new aidant invited into the structure';
}

// The aidant concludes a mandate for a person identified with FranceConnect.
export async function aidant(ctx, page, { width }) {
  const email = 'aidant@demo.passerelle.fr';
  const identity = width < 992 ? 'pierre' : 'angela';
  await ctx.signIn(page, email);
  await ctx.reached(page, 'aidant connecté', { action: true });
  await ctx.viaMenu(page, '/aidants-connect/mandats');
  await ctx.reached(page, 'mandats', { action: true });
  await clickAndWait(page, page.locator('main a[href="/aidants-connect/mandats/nouveau"]'));
  await clickAndWait(page, page.locator('a.fr-connect[href="/franceconnect/connexion"]'));
  await expectPath(page, '/fc-simulateur/authorize');
  await clickAndWait(page, page.locator(`button[name=identite][value=${identity}]`));
  if (!(await text(page)).includes('Usager identifié')) throw new Error('no « Usager identifié » after FranceConnect');
  await ctx.reached(page, 'usager identifié', { action: true });
  await clickAndWait(page, page.locator('main a[href="/aidants-connect/mandats/nouveau"]'));
  await ctx.reached(page, 'nouveau mandat', { action: true });
  await page.click('label[for="demarche-papiers"]');
  await page.locator('input[name=duree]').first().evaluate((el) => el.labels[0].click());
  await submitForm(page, '#demarche-papiers');
  await expectPath(page, '/aidants-connect/mandats/recapitulatif');
  await ctx.reached(page, 'récapitulatif du mandat', { action: true });
  // The commune of birth by its name (the demo loads the official communes), not its bare code.
  const born = await text(page);
  if (!/date de naissance : \d{2}\/\d{2}\/\d{4}, (?:Paris 7e Arrondissement \(75107\)|Bordeaux \(33063\))/.test(born)) {
    throw new Error(`the summary names the commune of birth badly: ${born.slice(0, 300)}`);
  }
  const recap = page.url();
  await page.click('label[for=declaration]');
  await submitForm(page, '#declaration');
  if (await ctx.freshCode(page, email)) {
    await page.goto(recap, { waitUntil: 'load' });
    await page.click('label[for=declaration]');
    await submitForm(page, '#declaration');
  }
  const concluded = new URL(page.url()).pathname.match(/^\/aidants-connect\/mandats\/(\d+)$/);
  if (!concluded) throw new Error(`after « Conclure le mandat »: ${page.url()}`);
  await ctx.reached(page, 'mandat conclu', { action: true });
  await ctx.viaMenu(page, '/activite');
  await ctx.reached(page, 'mon activité', { action: true });
  await page.goto(`${ctx.base}/activite/nouvelle`, { waitUntil: 'load' });
  await ctx.reached(page, 'nouvel accompagnement');
  const pdf = await page.request.get(`${ctx.base}/aidants-connect/mandats/${concluded[1]}/attestation.pdf`);
  if (pdf.status() !== 200) throw new Error(`attestation: HTTP ${pdf.status()}`);
  return `mandate n° ${concluded[1]} concluded for « ${identity} », its attestation downloaded`;
}

// The person sees the mandates given for him and revokes one démarche.
export async function usager(ctx, page, { width }) {
  const identity = width < 992 ? 'pierre' : 'angela';
  await page.goto(`${ctx.base}/`, { waitUntil: 'load' });
  // From the home page's Aidants Connect card at one width, from the menu at the other.
  if (width < 992) await clickAndWait(page, page.locator('.fr-card__footer a[href="/espace-usager"]'));
  else await ctx.viaMenu(page, '/espace-usager');
  await ctx.reached(page, 'mes mandats (connexion)', { action: true });
  await clickAndWait(page, page.locator('a.fr-connect[href="/espace-usager/connexion"]'));
  await clickAndWait(page, page.locator(`button[name=identite][value=${identity}]`));
  await expectPath(page, '/espace-usager');
  await ctx.reached(page, 'mes mandats', { action: true });
  const revoke = page.locator('main a[href*="/revoquer?demarche="]');
  if ((await revoke.count()) === 0) throw new Error('no démarche to revoke in the usager\'s space');
  await clickAndWait(page, revoke);
  await ctx.reached(page, 'révoquer une démarche', { action: true });
  await clickAndWait(page, page.locator('form[action$="/revoquer"] button[type=submit]'));
  if (!(await text(page)).includes('Révocation enregistrée')) throw new Error('no « Révocation enregistrée »');
  await ctx.reached(page, 'révocation enregistrée', { action: true });
  return `« ${identity} » sees his mandates and revokes a démarche`;
}
