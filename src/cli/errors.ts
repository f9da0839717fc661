/** A problem the user can fix (bad flag, missing file, unreachable pool): printed as one line, no stack. */
export class UserError extends Error {
  override name = 'UserError';
}
