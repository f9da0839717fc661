/**
 * A declared resource's address (`Kind/name`), made once per resource object: a plan of 10,000 VMs
 * asks for each several times, and a new string is hashed again at every map it keys. Kind and name
 * are never changed after a build.
 */
const addresses = new WeakMap<object, string>();

export function addressOf(resource: { kind: string; meta: { name: string } }): string {
  let address = addresses.get(resource);
  if (address === undefined) addresses.set(resource, (address = `${resource.kind}/${resource.meta.name}`));
  return address;
}
