import { mkdtemp, rm, symlink } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * Another revision of the service to compare against (BENCH_BASELINE), exported with
 * `git archive` into a temporary folder: no worktree is registered in the repository, so nothing
 * is left behind in it, and the files are exactly the revision's. Its node_modules are this
 * checkout's, linked, when both revisions lock the same dependencies; otherwise `npm ci` installs
 * its own.
 */
export interface Baseline {
  readonly revision: string
  /** The short commit id the revision named when the bench started. */
  readonly commit: string
  readonly checkout: string
  readonly remove: () => Promise<void>
}

const root = join(import.meta.dir, "..")

const git = (args: ReadonlyArray<string>) => {
  const result = Bun.spawnSync(["git", ...args], { cwd: root, stderr: "pipe" })
  if (!result.success) throw new Error(`git ${args.join(" ")} failed: ${result.stderr.toString().trim()}`)
  return result.stdout
}

export const checkOutBaseline = async (revision: string): Promise<Baseline> => {
  const commit = git(["rev-parse", "--short", `${revision}^{commit}`]).toString().trim()
  const folder = await mkdtemp(join(tmpdir(), `dino-baseline-${commit}-`))
  const remove = () => rm(folder, { recursive: true, force: true })
  try {
    const archive = git(["archive", "--format=tar", commit])
    const untar = Bun.spawnSync(["tar", "-x", "-C", folder], { stdin: archive, stderr: "pipe" })
    if (!untar.success) throw new Error(`cannot unpack ${revision}: ${untar.stderr.toString().trim()}`)
    const sameLock = Bun.spawnSync(["git", "diff", "--quiet", commit, "--", "package-lock.json"], { cwd: root }).success
    if (sameLock) {
      await symlink(join(root, "node_modules"), join(folder, "node_modules"), "dir")
    } else {
      console.log(`baseline ${commit} locks other dependencies: npm ci in ${folder}`)
      const install = Bun.spawnSync(["npm", "ci", "--no-audit", "--no-fund"], { cwd: folder, stdout: "ignore", stderr: "pipe" })
      if (!install.success) throw new Error(`npm ci for ${revision} failed: ${install.stderr.toString().trim()}`)
    }
    return { revision, commit, checkout: folder, remove }
  } catch (error) {
    await remove()
    throw error
  }
}
