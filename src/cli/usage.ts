/**
 * Re-aligns a block of option lines (`  --flag VALUE   what it does`, continuation lines indented
 * under the description) so its descriptions start at column `col`: shared blocks such as the
 * connection options then line up with a command's own options in its --help.
 */
export function alignOptions(block: string, col: number): string {
  return block
    .split('\n')
    .map((line) => {
      const option = /^ {2}(-\S.*?)\s{2,}(\S.*)$/.exec(line);
      if (option) return `  ${option[1].padEnd(col - 3)} ${option[2]}`;
      const continuation = /^\s{8,}(\S.*)$/.exec(line);
      if (continuation) return ' '.repeat(col) + continuation[1];
      return line;
    })
    .join('\n');
}
