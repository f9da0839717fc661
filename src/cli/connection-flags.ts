// The connection flags and their usage text, apart from the client so that parsing them loads nothing else.
/** The parseArgs options every command that talks to a pool accepts. */
export const connectionOptions = {
  xapi: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  transport: { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** Usage lines for connectionOptions, for commands' --help text. */
export const CONNECTION_USAGE = `connection (or env XOPS_XAPI_URL, XOPS_XAPI_USER, XOPS_XAPI_PASSWORD):
  --xapi URL             pool master (or any host of the pool), e.g. https://xcp-host1
  --user NAME            login name (default root)
  --password-file FILE   file holding the password
  --ca FILE              PEM CA to trust for https
  --insecure             accept any TLS certificate
  --transport T          auto (default), jsonrpc or xmlrpc
  --timeout DURATION     give up on one pool call after this long (e.g. 30s, 2m; default 60s)`;
