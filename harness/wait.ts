// Polling until a part of the control plane answers, with a reason when it died first.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitForOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Returns why waiting is pointless (the process died), else undefined. */
  abort?: () => string | undefined;
}

/** Calls `ready` every intervalMs until it resolves true; throws at the deadline or when abort() gives a reason. */
export async function waitFor(what: string, ready: () => Promise<boolean> | boolean, { timeoutMs, intervalMs = 100, abort }: WaitForOptions): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    const reason = abort?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      if (await ready()) return;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ready after ${timeoutMs}ms${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}
