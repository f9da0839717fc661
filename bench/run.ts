/**
 * `npm run bench`: runs every benchmark module in bench/ and prints its figures.
 * `npm run bench -- plan apply` runs only the named ones.
 */
const BENCHES = ['sim', 'xapi', 'observe', 'manifests', 'policy', 'plan', 'warm', 'apply', 'controller', 'ova-upload', 'fleet'] as const;

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? BENCHES.filter((b) => wanted.includes(b)) : BENCHES;
  for (const name of names) {
    const fn = `bench${name[0]!.toUpperCase()}${name.slice(1).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase())}`;
    const mod = (await import(`./${name}.js`)) as Record<string, () => Promise<void>>;
    const bench = mod[fn];
    if (!bench) throw new Error(`bench/${name}.ts does not export ${fn}()`);
    process.stdout.write(`\n== ${name} ==\n`);
    await bench();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
