import { Cron } from "croner";

/** Why a cron expression cannot be used, or undefined when it can (5 fields, or 6 with seconds). */
export function checkCron(expression: string, timeZone?: string): string | undefined {
  try {
    new Cron(expression, { paused: true, ...(timeZone ? { timezone: timeZone } : {}) });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The first tick of `expression` strictly after `after`, in `timeZone` (default UTC). */
export function nextCronRun(expression: string, timeZone: string | undefined, after: Date): Date | undefined {
  const cron = new Cron(expression, { paused: true, timezone: timeZone ?? "UTC" });
  return cron.nextRun(after) ?? undefined;
}
