import { startServer, launchBrowser, newPage, screenshot } from './lib/harness.mjs';
const s = await startServer();
const b = await launchBrowser();
try {
  const p = await newPage(b);
  await p.goto(s.url + '/signin');
  await p.getByLabel('Username').fill('ann.taylor');
  await p.getByLabel('Password', { exact: true }).fill(s.logins['ann.taylor'].password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForTimeout(3000);
  console.log(p.url(), await p.locator('main').innerText());
  await screenshot(p, 'smoke');
  console.log('errors', p.errors);
} finally { await b.close(); await s.stop(); }
