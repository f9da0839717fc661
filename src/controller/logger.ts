import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Field names whose values never reach a log line, at the top level and up to three levels deep
 * (pino's redaction takes explicit paths; `*` matches one level).
 */
const SECRET_FIELDS = ['password', 'secret', 'token', 'authorization', 'webhookSecret', 'apiKey', 'cookie'];
export const REDACTED_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

/** Options for the controller's logger. */
export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go; stdout when omitted. */
  destination?: DestinationStream;
}

/** The controller's logger: pino, one JSON object per line, secrets replaced by `[redacted]`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'xops',
      level: options.level ?? process.env.XOPS_LOG_LEVEL ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination(1),
  );
}
