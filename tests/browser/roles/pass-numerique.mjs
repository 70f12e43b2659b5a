// Journeys of the Pass Numérique: the holder of a cheque, the place's staff at the counter, the
// prescriber handing out a booklet, the funder ordering booklets, the opérateur issuing them.

import { clickAndWait, expectPath, submitForm, text } from '../lib/outils.mjs';

// The holder types the code of his cheque from the home page: valid, until when, where.
export async function titulaire(ctx, page) {
  const code = ctx.codes[0];
  await page.goto(`${ctx.base}/`, { waitUntil: 'load' });
  await clickAndWait(page, page.locator('.fr-card__footer a[href="/c"]'));
  await expectPath(page, '/c');
  await ctx.reached(page, 'vérifier mon chèque', { action: true });
  // As it is printed, with its dashes, in lower case: the form takes it all.
  await page.fill('#code', code.toLowerCase());
  await submitForm(page, '#code');
  const said = await text(page);
  if (!said.includes('Ce chèque est valable')) throw new Error(`the cheque page says: ${said.slice(0, 300)}`);
  if (!/jusqu.au \d{2}\/\d{2}\/\d{4}/.test(said)) throw new Error('the cheque page gives no last day as JJ/MM/AAAA');
  await ctx.reached(page, 'mon chèque', { action: true });
  await clickAndWait(page, page.locator('main a[href^="/lieux?"][href*="pass_numerique=1"]'));
  const heading = await text(page, '#resultats');
  if (!/lieux? trouvés?/.test(heading)) throw new Error(`the places that take the cheque: ${JSON.stringify(heading)}`);
  await ctx.reached(page, 'lieux qui acceptent le chèque', { action: true });
  return 'the cheque is valid, and the places that take it are listed';
}

// The place's staff redeem a cheque at the counter: the place and the service are preset.
export async function lieu(ctx, page, { run }) {
  const code = ctx.codes[1 + run];
  await ctx.signIn(page, 'epn-pessac@demo.passerelle.fr');
  await ctx.reached(page, 'lieu connecté', { action: true });
  await ctx.viaMenu(page, '/encaisser');
  await ctx.reached(page, 'encaisser un chèque', { action: true });
  await page.fill('#code', code);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator('button[name=action][value=encaisser]').click(),
  ]);
  const said = await text(page);
  if (!said.includes('Chèque encaissé') || !/\d+(?:,\d{2})? €/.test(said)) throw new Error(`after « Encaisser »: ${said.slice(0, 300)}`);
  await ctx.reached(page, 'chèque encaissé', { action: true });
  const receipt = (await text(page, 'main .fr-alert p')).trim();
  await ctx.viaMenu(page, '/releves');
  await ctx.reached(page, 'relevés du lieu', { action: true });
  return `cheque redeemed (« ${receipt} »)`;
}

// The prescriber hands out one of the booklets given to his organisation.
export async function prescripteur(ctx, page, { width }) {
  await ctx.signIn(page, 'prescripteur@demo.passerelle.fr');
  await ctx.reached(page, 'prescripteur connecté', { action: true });
  await ctx.viaMenu(page, '/remettre');
  await ctx.reached(page, 'remettre un carnet', { action: true });
  // The page says which booklets are to hand out; the first one is taken.
  const left = await text(page, '#carnets-disponibles');
  const numero = await page.inputValue('#carnet');
  if (!numero || !left.includes(`n° ${numero}`)) throw new Error(`the booklet preset (${numero}) is not among those left: ${left}`);
  // A commune by its name, as the person says it.
  await page.fill('#commune', width < 992 ? 'Pessac' : 'Bègles');
  await submitForm(page, '#carnet');
  const said = await text(page);
  if (!said.includes('Carnet remis')) throw new Error(`after « Enregistrer la remise »: ${said.slice(0, 300)}`);
  await ctx.reached(page, 'carnet remis', { action: true });
  return `booklet n° ${numero} handed out`;
}

// The funder orders booklets for the Gironde, then accepts the quote.
export async function commanditaire(ctx, page, { shared }) {
  await ctx.signIn(page, 'commanditaire@demo.passerelle.fr');
  await ctx.reached(page, 'commanditaire connecté', { action: true });
  await ctx.viaMenu(page, '/commandes');
  await ctx.reached(page, 'commandes du commanditaire', { action: true });
  await clickAndWait(page, page.locator('main a[href="/commandes/nouvelle"]'));
  await ctx.reached(page, 'nouvelle commande', { action: true });
  await page.fill('#carnets', '4');
  await page.fill('#perimetre', '33');
  await page.click('label[for="public-seniors"]');
  await submitForm(page, '#carnets');
  const created = new URL(page.url()).pathname.match(/^\/commandes\/(\d+)$/);
  if (!created) throw new Error(`after « Enregistrer la commande »: ${page.url()} — ${(await text(page)).slice(0, 300)}`);
  if (!(await text(page)).includes('La commande et son devis sont enregistrés')) throw new Error('no confirmation of the order');
  await ctx.reached(page, 'commande enregistrée', { action: true });
  await clickAndWait(page, page.locator(`form[action="/commandes/${created[1]}/accepter"] button`));
  if (!(await text(page)).includes('Le devis est accepté')) throw new Error('no confirmation of the accepted quote');
  await ctx.reached(page, 'devis accepté', { action: true });
  shared.commande = created[1];
  return `order n° ${created[1]} placed and its quote accepted`;
}

// The opérateur records the funder's payment, issues the booklets and gives them to a prescriber.
export async function operateur(ctx, page, { shared }) {
  if (!shared.commande) throw new Error('no order from the funder\'s journey');
  const id = shared.commande;
  await ctx.signIn(page, 'operateur@demo.passerelle.fr');
  await ctx.reached(page, 'opérateur connecté', { action: true });
  await ctx.viaMenu(page, '/commandes');
  await ctx.reached(page, 'commandes (opérateur)', { action: true });
  await clickAndWait(page, page.locator(`main a[href="/commandes/${id}"]`));
  await ctx.reached(page, 'commande à payer', { action: true });
  await page.fill('#reference', `VIR-GIRONDE-${id}`);
  await submitForm(page, '#reference');
  if (!(await text(page)).includes('paiement')) throw new Error('no confirmation of the payment');
  await ctx.reached(page, 'paiement enregistré', { action: true });
  await clickAndWait(page, page.locator(`form[action="/commandes/${id}/emettre"] button`));
  await ctx.freshCode(page, 'operateur@demo.passerelle.fr');
  if (!(await text(page)).includes('sont émis')) throw new Error(`after « Émettre »: ${(await text(page)).slice(0, 300)}`);
  await ctx.reached(page, 'carnets émis', { action: true });
  await submitForm(page, '#attr-de');
  if (!/carnets? attribués? au prescripteur/.test(await text(page))) throw new Error('no confirmation of the allotment');
  await ctx.reached(page, 'carnets attribués', { action: true });
  return `order n° ${id} paid, issued, its booklets given to the prescriber`;
}
