// Which container images a job may run as its edge workers (spec.workers[].image). A worker Pod runs on an
// edge node with the token of its job, so the image is the admin's choice: an allow-list of registry
// prefixes (MEI_AGENT_IMAGE_PREFIXES, comma-separated), by default only the agent image's own repository.

/** The project's own agent image (MEI_AGENT_IMAGE overrides it). */
export const DEFAULT_AGENT_IMAGE = 'mei/edge-agent:0.1.0';

/** `registry/repo` of an image reference (tag and digest cut off; a ':' in the registry's port is kept). */
export function imageRepository(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The allowed prefixes: MEI_AGENT_IMAGE_PREFIXES, else the repository of MEI_AGENT_IMAGE (or the default image). */
export function allowedImagePrefixes(env: Record<string, string | undefined>): string[] {
  const listed = (env.MEI_AGENT_IMAGE_PREFIXES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return listed.length ? listed : [imageRepository(env.MEI_AGENT_IMAGE || DEFAULT_AGENT_IMAGE)];
}

/**
 * An entry ending in '/' admits every image under that path; any other entry is one repository (any tag
 * or digest). No wildcards: `mei/edge-agent` must not admit `mei/edge-agent-evil`.
 */
export function imageAllowed(image: string, prefixes: readonly string[]): boolean {
  if (!image || /\s/.test(image)) return false;
  return prefixes.some((p) => (p.endsWith('/') ? image.startsWith(p) && image.length > p.length : imageRepository(image) === p));
}
