import pg from "pg"
import { processCpuMs } from "./procfs.ts"

/**
 * CPU of the PostgreSQL backends serving the service's database, read from /proc by their pids
 * (the server runs on this machine: embedded, or at 127.0.0.1). This separates the database's
 * share from other work on the machine, which "rest of the machine" cannot.
 */
export type BackendCpu = ReadonlyMap<number, number>

export const backendCpu = async (databaseUrl: string): Promise<BackendCpu | undefined> => {
  const client = new pg.Client({ connectionString: databaseUrl })
  try {
    await client.connect()
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
    )
    const cpu = new Map<number, number>()
    for (const { pid } of rows) {
      const ms = await processCpuMs(pid)
      if (ms !== undefined) cpu.set(pid, ms)
    }
    return rows.length > 0 && cpu.size === 0 ? undefined : cpu
  } catch {
    return undefined
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * CPU the backends spent between two readings. A backend opened in between counts from zero;
 * one closed in between is lost, which the pool's idle timeout (30 s) makes rare in a workload.
 */
export const backendCpuSpentMs = (before: BackendCpu | undefined, after: BackendCpu | undefined) => {
  if (before === undefined || after === undefined) return undefined
  let spent = 0
  for (const [pid, ms] of after) spent += ms - (before.get(pid) ?? 0)
  return spent
}
