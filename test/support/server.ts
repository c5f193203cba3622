/** Starts the real router in this process on an ephemeral loopback port, for end-to-end tests. */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { type ExtraTools, serverLayer } from "../../src/main.ts"

export interface RunningServer {
  readonly url: string
  readonly workingDir: string
  readonly close: () => Promise<void>
}

export const makeTempDir = (prefix = "mcp-router-test-") => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))

/** `input` is a config file's content; port, host and a temporary working folder are filled in. */
export const startServer = async (input: Record<string, any> = {}, extraTools?: ExtraTools): Promise<RunningServer> => {
  const ownsWorkingDir = input.tools?.workingDir === undefined
  const workingDir = input.tools?.workingDir ?? makeTempDir()
  const dataDir = input.storage?.dataDir ?? makeTempDir("mcp-router-data-")
  // development mode unless a test turns keys on: most tests are about something else
  const config = {
    ...input,
    security: { requireApiKey: false, ...input.security },
    storage: { ...input.storage, dataDir },
    server: { host: "127.0.0.1", ...input.server, port: 0 },
    logging: { enableConsole: false, ...input.logging },
    tools: { ...input.tools, workingDir }
  }
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(serverLayer(AppConfig.layerFromInput(config), extraTools), scope)
  )
  const server = Context.get(context, HttpServer.HttpServer)
  const address = server.address as unknown as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}`,
    workingDir,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      if (ownsWorkingDir) fs.rmSync(workingDir, { recursive: true, force: true })
      if (input.storage?.dataDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
