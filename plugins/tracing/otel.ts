// The OpenTelemetry SDK, loaded only when the tracing plugin is configured.
// Its packages are optional peer dependencies: an install that does not trace
// does not carry them.

import { CoordinatorError } from '../../core/errors.js';

export const OTEL_PACKAGES = ['@opentelemetry/api@~1.9.0', '@opentelemetry/sdk-trace-base@^2.12.1', '@opentelemetry/exporter-trace-otlp-http@~0.223.1', '@opentelemetry/resources@^2.12.1', '@opentelemetry/core@^2.12.1'];

export interface Otel {
  api: typeof import('@opentelemetry/api');
  sdk: typeof import('@opentelemetry/sdk-trace-base');
  exporter: typeof import('@opentelemetry/exporter-trace-otlp-http');
  resources: typeof import('@opentelemetry/resources');
  core: typeof import('@opentelemetry/core');
}

export async function loadOtel(): Promise<Otel> {
  try {
    const [api, sdk, exporter, resources, core] = await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/core'),
    ]);
    return { api, sdk, exporter, resources, core };
  } catch (err) {
    throw new CoordinatorError('ERR_CONFIG', `the tracing plugin needs the OpenTelemetry packages, which are not installed (${(err as Error).message.split('\n')[0]}): npm install ${OTEL_PACKAGES.join(' ')}`, { cause: err });
  }
}
