/** Manifests the VMGroup tests share: a web VM of the `tier: web` selector, and the group itself. */

/** A running web VM with one disk on pool-nfs; `networks`: the names of the networks it is on. */
export function webVM(name: string, opts: { diskSize?: string; networks?: string[] } = {}): string {
  const networks = opts.networks?.length ? `  networks:\n${opts.networks.map((n) => `    - network: ${n}\n`).join('')}` : '';
  return `apiVersion: xops/v1
kind: VM
metadata: {name: ${name}, labels: {tier: web}}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: 1GiB
  disks:
    - {name: root, size: ${opts.diskSize ?? '5GiB'}, sr: pool-nfs}
${networks}  powerState: running
`;
}

/** The group of every `tier: web` VM, with this placement (`anti-affinity` or `normal`). */
export function webGroup(placement: string): string {
  return `apiVersion: xops/v1
kind: VMGroup
metadata: {name: web-spread}
spec:
  placement: ${placement}
  selector: {labels: {tier: web}}
`;
}
