// The job lifecycle through the dashboard against the real server and real local edge agents:
// sign in, create a job with the form (browser-side CRD validation first), watch it run, inspect, delete.
import { expect, test, type Page } from '@playwright/test';

const user = () => process.env.MEI_E2E_USER ?? 'admin';
const password = () => {
  const p = process.env.MEI_E2E_PASSWORD;
  if (!p) throw new Error('MEI_E2E_PASSWORD is not set (global-setup sets it when it starts the server)');
  return p;
};

/** Counts requests matching a method and a path, from now on. */
// Page changes can wait on on-demand compilation when the server runs Next dev on a busy machine.
const NAV = { timeout: 60_000 };

function countRequests(page: Page, method: string, test: (path: string) => boolean) {
  const seen: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (r.method() === method && test(path)) seen.push(path);
  });
  return () => seen.length;
}

test('sign in, create a job with inline validation, watch it run, inspect it, delete it', async ({ page }) => {
  const jobName = `e2e-${Date.now().toString(36)}`;

  // An unauthenticated visit goes to /login and, after signing in, back to where the user was going.
  await page.goto('/jobs/new');
  await expect(page).toHaveURL(/\/login\?next=%2Fjobs%2Fnew$/, NAV);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeEnabled(NAV); // hydrated
  await page.getByLabel('Username').fill(user());
  await page.getByLabel('Password').fill('definitely-not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('login-error')).toHaveText(/wrong username or password/i);

  await page.getByLabel('Password').fill(password());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/jobs\/new$/, NAV);
  await expect(page.getByTestId('current-user')).toHaveText(user());
  await expect(page.getByTestId('server-mode')).toHaveText('embedded');

  // Bad values are caught in the browser with the CRD schema, next to their inputs, before any POST.
  const posts = countRequests(page, 'POST', (p) => p === '/api/jobs');
  const jobSection = page.getByRole('region', { name: 'Job', exact: true });
  const camera = page.getByTestId('camera-0');
  await expect(page.getByTestId('create-job')).toHaveText('Create job', NAV); // schema loaded
  await jobSection.getByLabel('Name', { exact: true }).fill(jobName);
  await camera.getByLabel('Name', { exact: true }).fill('Cam-A');
  await camera.getByLabel('FPS').fill('0');
  await page.getByTestId('create-job').click();

  const fpsError = page.getByTestId('error-spec.cameras[0].fps');
  const nameError = page.getByTestId('error-spec.cameras[0].name');
  await expect(fpsError).toContainText('Should be greater than');
  await expect(nameError).toContainText('lowercase letters');
  await expect(camera.getByLabel('FPS')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('error-summary')).toContainText('2 fields need attention');
  expect(posts()).toBe(0);
  await expect(page).toHaveURL(/\/jobs\/new$/, NAV);

  // Fixing the fields clears their errors at once; then the job is created and its page opens.
  await camera.getByLabel('FPS').fill('5');
  await expect(fpsError).toHaveCount(0);
  await camera.getByLabel('Name', { exact: true }).fill('cam-a');
  await expect(nameError).toHaveCount(0);
  await page.getByTestId('create-job').click();
  await expect(page).toHaveURL(new RegExp(`/jobs/default/${jobName}$`), NAV);
  expect(posts()).toBe(1);

  // The list follows the job to Running through Socket.IO events (no polling, no reload).
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
  await expect(page).toHaveURL(/\/$/, NAV);
  const row = page.getByTestId(`job-row-${jobName}`);
  await expect(row).toBeVisible(NAV);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-status', 'live');
  await expect(row.getByTestId('cameras')).toHaveText('1');
  await expect(row.getByTestId('phase')).toHaveText('Running', { timeout: 90_000 });

  // Detail: conditions, the worker on edge-local, the camera streaming, numbers moving live.
  // The job itself (not its chart series, which refresh on their own).
  const detailGets = countRequests(page, 'GET', (p) => /^\/api\/jobs\/[^/]+\/[^/]+$/.test(p));
  await row.getByRole('link', { name: jobName }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/default/${jobName}$`), NAV);
  await expect(page.getByRole('heading', { level: 1, name: jobName })).toBeVisible(NAV);
  await expect(page.getByTestId('phase').first()).toHaveText('Running');
  await expect(page.getByTestId('conditions-table').locator('tbody tr').first()).toBeVisible();
  const worker = page.getByTestId('worker-edge-local');
  await expect(worker).toBeVisible();
  await expect(worker.getByTestId('worker-phase')).toHaveText('Running', { timeout: 60_000 });
  const cam = page.getByTestId('camera-status-cam-a');
  await expect(cam.getByTestId('camera-state')).toHaveText('Streaming', { timeout: 60_000 });
  // Delivery counts from the agent's spool, next to the fps: nothing lost on a healthy link.
  await expect(cam.getByTestId('dropped')).toHaveText('0', { timeout: 60_000 });
  await expect(cam.getByTestId('spool')).not.toHaveText('—');
  const frames = async () => Number((await cam.getByTestId('frames').innerText()).split('/')[0].trim());
  const before = await frames();
  await expect.poll(frames, { timeout: 60_000, message: 'frames processed should grow from socket updates' }).toBeGreaterThan(before);
  // The detail was fetched once; everything after came over the socket.
  expect(detailGets()).toBeLessThanOrEqual(1);
  await expect(page.getByTestId('spec-summary')).toContainText('cam-a');
  // The last minutes as charts, from the server's samples: fps and people lines grow while the camera runs.
  const fpsChart = page.getByTestId('chart-fps-cam-a');
  await expect.poll(async () => Number(await fpsChart.getAttribute('data-points')), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
  await expect(fpsChart.locator('polyline')).not.toHaveCount(0);
  await expect(page.getByTestId('chart-fps-cam-a-value')).toHaveText(/^\d+\.\d$/);
  expect(Number(await page.getByTestId('chart-people-cam-a').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);

  // Delete with confirmation: back on the list, the row goes away when the server finishes deleting.
  await page.getByTestId('delete-job').click();
  const dialog = page.getByTestId('delete-dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByTestId('confirm-delete').click();
  await expect(page).toHaveURL(/\/$/, NAV);
  await expect(page.getByTestId(`job-row-${jobName}`)).toHaveCount(0, { timeout: 60_000 });
});
