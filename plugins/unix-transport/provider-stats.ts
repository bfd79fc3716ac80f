// What the console shows per provider socket: when it last accepted or
// refused a request, and how often it failed or took over after another
// failed. Kept per socket path, bounded (the oldest entry goes first).

export interface ProviderRecord {
  lastSuccessAt: number;
  lastFailureAt: number;
  failures: number;
  /** Requests this socket accepted after a better one failed. */
  failovers: number;
}

export class ProviderStats {
  private readonly records = new Map<string, ProviderRecord>();

  constructor(private readonly max = 1024) {}

  private record(path: string): ProviderRecord {
    let record = this.records.get(path);
    if (!record) {
      if (this.records.size >= this.max) this.records.delete(this.records.keys().next().value!);
      record = { lastSuccessAt: 0, lastFailureAt: 0, failures: 0, failovers: 0 };
      this.records.set(path, record);
    }
    return record;
  }

  accepted(path: string, afterFailures: boolean): void {
    const record = this.record(path);
    record.lastSuccessAt = Date.now();
    if (afterFailures) record.failovers += 1;
  }

  failed(path: string): void {
    const record = this.record(path);
    record.lastFailureAt = Date.now();
    record.failures += 1;
  }

  of(path: string): ProviderRecord {
    return this.records.get(path) ?? { lastSuccessAt: 0, lastFailureAt: 0, failures: 0, failovers: 0 };
  }
}
