import { readdir, writeFile } from "node:fs/promises"

/**
 * What Linux's /proc tells about a process and the machine: CPU time and resident memory.
 * Off Linux every reader answers undefined and the report prints "?".
 */

/** Clock ticks per second of /proc's CPU counters; 100 on almost every Linux. */
export const clockTicksPerSecond = (() => {
  const result = Bun.spawnSync(["getconf", "CLK_TCK"])
  const ticks = Number(result.stdout.toString().trim())
  return result.success && Number.isInteger(ticks) && ticks > 0 ? ticks : 100
})()

const readProc = (path: string) => Bun.file(path).text().catch(() => undefined)

/** User plus system CPU time of every thread of the process so far, in ms. */
export const processCpuMs = async (pid: number): Promise<number | undefined> => {
  const stat = await readProc(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  // The command name (field 2) may hold spaces and parentheses, so count fields after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return Number.isFinite(utime + stime) ? ((utime + stime) * 1000) / clockTicksPerSecond : undefined
}

/**
 * The service's processes: the one the bench started and, with WORKERS, the workers it started
 * (Bun processes below it; not the embedded PostgreSQL's, which are the database's).
 */
export const serviceProcesses = async (pid: number): Promise<Array<number>> => {
  const names = await readdir("/proc").catch(() => [] as Array<string>)
  const parents = new Map<number, { readonly parent: number; readonly command: string }>()
  await Promise.all(names.filter((name) => /^\d+$/.test(name)).map(async (name) => {
    const stat = await readProc(`/proc/${name}/stat`)
    if (stat === undefined) return
    const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    parents.set(Number(name), { parent, command })
  }))
  const found = [pid]
  for (let i = 0; i < found.length; i++) {
    for (const [child, { command, parent }] of parents) {
      if (parent === found[i] && command.startsWith("bun")) found.push(child)
    }
  }
  return found
}

/** CPU time of the service's processes so far (see serviceProcesses), in ms. */
export const serviceCpuMs = async (pid: number): Promise<number | undefined> => {
  const times = await Promise.all((await serviceProcesses(pid)).map(processCpuMs))
  return times[0] === undefined ? undefined : times.reduce<number>((sum, ms) => sum + (ms ?? 0), 0)
}

/** CPU time all cores of the machine spent busy (not idle, not waiting for I/O) so far, in ms. */
export const machineBusyCpuMs = async (): Promise<number | undefined> => {
  const stat = await readProc("/proc/stat")
  const fields = stat?.split("\n")[0]?.trim().split(/\s+/).slice(1).map(Number)
  if (fields === undefined || fields.length < 5 || fields.some((n) => !Number.isFinite(n))) return undefined
  // user nice system idle iowait irq softirq steal [guest guest_nice, already inside user and nice]
  const [user, nice, system, , , irq = 0, softirq = 0, steal = 0] = fields
  return ((user! + nice! + system! + irq + softirq + steal) * 1000) / clockTicksPerSecond
}

const statusKiB = async (pid: number, field: "VmHWM") => {
  const status = await readProc(`/proc/${pid}/status`)
  const kb = status === undefined ? undefined : new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]
  return kb === undefined ? undefined : Number(kb)
}

/**
 * The highest resident memory of the service since it started or since `resetPeakResident`, in
 * MiB: with workers, the sum of each process's own peak.
 */
export const peakResidentMiB = async (pid: number) => {
  const peaks = await Promise.all((await serviceProcesses(pid)).map((one) => statusKiB(one, "VmHWM")))
  return peaks[0] === undefined ? undefined : peaks.reduce<number>((sum, kb) => sum + (kb ?? 0), 0) / 1024
}

/**
 * Starts a new peak-RSS window: writing 5 to clear_refs resets VmHWM to the current RSS, so
 * VmHWM afterwards is the peak of the next workload alone, not of the process's whole life.
 * Answers false where that is not allowed; VmHWM then covers everything before as well.
 */
export const resetPeakResident = async (pid: number) => {
  const reset = await Promise.all((await serviceProcesses(pid)).map((one) =>
    writeFile(`/proc/${one}/clear_refs`, "5").then(() => true, () => false)
  ))
  return reset.every((done) => done)
}

/** The machine's 1-minute load average: other work on the machine skews every figure. */
export const loadAverage = async () => (await readProc("/proc/loadavg"))?.split(" ")[0] ?? "?"
