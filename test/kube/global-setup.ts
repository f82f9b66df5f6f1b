// One real etcd + kube-apiserver for all kube tests (see vitest.config.ts).
// Builds the binaries first if they are not cached; a failed build fails the run.
import type { TestProject } from 'vitest/node';
import { startKubeApiServer } from './harness.ts';
import { TEST_USERS } from './cluster.ts';

export default async function setup(project: TestProject) {
  const server = await startKubeApiServer({ users: TEST_USERS, verbose: process.env.MEI_KUBE_VERBOSE === '1' });
  const { stop, ...info } = server;
  console.log(`[kube] kube-apiserver ready at ${info.url} in ${info.startupMs} ms (assets: ${info.assetsDir})`);
  project.provide('kube', info);
  // Also for child processes a test may spawn (e.g. kubectl, MEI's server in kube mode).
  process.env.KUBECONFIG = info.kubeconfigPath;
  return async () => {
    await stop();
  };
}
