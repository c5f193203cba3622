/** Where an installed router keeps its state when nothing names a folder: a per-user folder, never the launch folder. */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { loadConfig, runsInstalled, userDataFolder } from "../../src/config/load.ts"
import { makeTempDir } from "./support.ts"

const dirs: Array<string> = []
const temp = (prefix: string) => {
  const dir = makeTempDir(prefix)
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

describe("the per-user data folder", () => {
  it("follows each platform's convention", () => {
    expect(userDataFolder({ XDG_DATA_HOME: "/x/share" }, "linux", "/home/ada")).toBe("/x/share/mcp-router-pro")
    expect(userDataFolder({}, "linux", "/home/ada")).toBe("/home/ada/.local/share/mcp-router-pro")
    // a relative XDG_DATA_HOME is ignored, as the XDG specification says
    expect(userDataFolder({ XDG_DATA_HOME: "share" }, "linux", "/home/ada")).toBe("/home/ada/.local/share/mcp-router-pro")
    expect(userDataFolder({}, "darwin", "/Users/ada")).toBe("/Users/ada/Library/Application Support/mcp-router-pro")
    expect(userDataFolder({}, "win32", "/Users/ada")).toBe(path.join("/Users/ada", "AppData", "Local", "mcp-router-pro"))
  })

  it("is used by an installed package (a module under node_modules), not by a checkout", () => {
    expect(runsInstalled("/home/ada/.npm/_npx/1a2b/node_modules/mcp-router-pro/dist/config/load.js")).toBe(true)
    expect(runsInstalled("/usr/lib/node_modules/mcp-router-pro/dist/config/load.js")).toBe(true)
    expect(runsInstalled("/home/ada/src/mcp-router-pro/src/config/load.ts")).toBe(false)
    expect(runsInstalled()).toBe(false)
  })

  it("holds the data, workspace and log folders of an installed router launched from an empty folder, which stays empty", async () => {
    const launch = temp("mcp-router-launch-")
    const home = temp("mcp-router-xdg-")
    const config = await Effect.runPromise(loadConfig({ env: { XDG_DATA_HOME: home }, cwd: launch, installed: true }))
    const base = path.join(home, "mcp-router-pro")
    expect(config.storage.dataDir).toBe(path.join(base, "data"))
    expect(config.tools.workingDir).toBe(fs.realpathSync(path.join(base, "workspace")))
    expect(config.logging.logDir).toBe(path.join(base, "logs"))
    expect(fs.readdirSync(launch)).toEqual([])
  })

  it("gives way to folders the environment or a config file names", async () => {
    const launch = temp("mcp-router-launch-")
    const home = temp("mcp-router-xdg-")
    const work = temp("mcp-router-work-")
    const config = await Effect.runPromise(loadConfig({
      env: { XDG_DATA_HOME: home, MCP_DATA_DIR: path.join(work, "state"), MCP_WORKING_DIR: work },
      cwd: launch,
      installed: true
    }))
    expect(config.storage.dataDir).toBe(path.join(work, "state"))
    expect(config.tools.workingDir).toBe(work)
    expect(fs.existsSync(path.join(home, "mcp-router-pro", "workspace"))).toBe(false)
  })

  it("is not used from a checkout: the defaults stay relative to the working folder", async () => {
    const cwd = temp("mcp-router-checkout-")
    const config = await Effect.runPromise(loadConfig({ env: {}, cwd, installed: false }))
    expect(config.storage.dataDir).toBe(path.join(cwd, "data"))
    expect(config.tools.workingDir).toBe(path.join(cwd, "workspace"))
  })
})
