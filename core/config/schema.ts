// JSON schema of the core configuration. Plugin options are validated
// separately, each with its plugin's own schema.

export const coreConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    serviceName: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9._-]+$' },
    socketDir: { type: 'string', minLength: 1, pattern: '^/' },
    externalPort: { type: 'integer', minimum: 0, maximum: 65535 },
    bindAddress: { type: 'string', minLength: 1 },
    requestTimeoutMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
    drainTimeoutMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
    stopTimeoutMs: { type: 'integer', minimum: 1000, maximum: 3_600_000 },
    hookTimeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
    maxPendingBytes: { type: 'integer', minimum: 65_536, maximum: 68_719_476_736 },
    maxJsonDepth: { type: 'integer', minimum: 2, maximum: 10_000 },
    maxJsonKeys: { type: 'integer', minimum: 16, maximum: 100_000_000 },
    lifecycleTimeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
    logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic', 'silent'] },
    dataDir: { type: 'string', minLength: 1 },
    commandsApi: {
      type: 'object',
      additionalProperties: false,
      properties: {
        auth: { enum: ['none', 'basic', 'bearer', 'custom', 'None', 'Basic', 'Bearer', 'Custom', 'NONE', 'BASIC', 'BEARER', 'CUSTOM'] },
        user: { type: 'string' },
        token: { type: 'string' },
        password: { type: 'string' },
        custom: { type: 'string' },
        open: { type: 'boolean' },
      },
    },
    plugins: { type: 'array' },
    pluginOptions: { type: 'object', additionalProperties: { type: 'object' } },
    service_name: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9._-]+$' },
    socket_dir: { type: 'string', minLength: 1, pattern: '^/' },
    external_port: { type: 'integer', minimum: 0, maximum: 65535 },
    request_timeout: { type: 'number', minimum: 0, maximum: 86_400 },
    log_level: { enum: ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic', 'silent'] },
    config_file: { type: 'string' },
  },
} as const;
