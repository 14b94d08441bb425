// A user error (bad flag, missing file, bad value) is reported as one line with exit code 2 and no
// stack trace; anything else is a bug and keeps its stack.

export class UserError extends Error {
  override name = 'UserError';
}

// Library errors that describe the user's input rather than a fault in pai. RangeError is here
// because the library validates options (model names, widths, seeds, batch sizes) with it; a
// RangeError from a genuine bug (an invalid array length) is rare enough that losing its stack in
// exchange for clean option errors is the right trade.
const USER_ERRORS = new Set([
  'UserError', 'ShapeError', 'StateDictError', 'SafetensorsError', 'DataError', 'LoaderError',
  'ConfigError', 'PruneError', 'RangeError', 'ExportError', 'OnnxImportError', 'AnalysisError',
]);

// Operating-system errors about paths the user named (a missing file, an unwritable folder).
const USER_ERRNOS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EROFS']);

export function isUserError(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  if (USER_ERRORS.has(e.name === 'Error' ? e.constructor.name : e.name)) return true;
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === 'string' && USER_ERRNOS.has(code);
}

/** The message as one line: a multi-line library message would break the one-line contract. */
export function oneLine(message: string): string {
  return message.split('\n').map((s) => s.trim()).filter(Boolean).join('; ');
}

export function reportAndExit(e: unknown): never {
  if (isUserError(e)) {
    process.stderr.write(`pai: ${oneLine(e.message)}\n`);
    process.exit(2);
  }
  process.stderr.write(`pai: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
}
