import { writeFile } from "node:fs/promises"

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

/** The highest resident memory of the process since it started or since `resetPeakResident`, in MiB. */
export const peakResidentMiB = async (pid: number) => {
  const kb = await statusKiB(pid, "VmHWM")
  return kb === undefined ? undefined : kb / 1024
}

/**
 * Starts a new peak-RSS window: writing 5 to clear_refs resets VmHWM to the current RSS, so
 * VmHWM afterwards is the peak of the next workload alone, not of the process's whole life.
 * Answers false where that is not allowed; VmHWM then covers everything before as well.
 */
export const resetPeakResident = (pid: number) =>
  writeFile(`/proc/${pid}/clear_refs`, "5").then(() => true, () => false)

/** The machine's 1-minute load average: other work on the machine skews every figure. */
export const loadAverage = async () => (await readProc("/proc/loadavg"))?.split(" ")[0] ?? "?"
