/**
 * Shared setup of the protocol-surface tests: the router with the official
 * `@modelcontextprotocol/server-everything` as an unprefixed stdio upstream, reached by the official SDK
 * client over Streamable HTTP (`/mcp`, keys on, the admin key as a Bearer token) or over stdio
 * (`node src/main.ts stdio --config <file>`, one router process per client, as a desktop client launches
 * it); and SDK clients on the same upstream servers directly, to compare with.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import {
  type ClientCapabilities,
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { call } from "../support/http.ts"
import { makeTempDir, type RunningServer } from "../support/server.ts"
import { processesWith, waitFor as pollFor } from "../upstreams/support.ts"

export { processesWith }

export type { RunningServer }
export type Kind = "http" | "stdio"
export const kinds: ReadonlyArray<Kind> = ["http", "stdio"]

export const root = fileURLToPath(new URL("../../", import.meta.url))
/** The sources need Node 24: under `npx vitest` this process is it, else the project's own node binary. */
export const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")
/** server-everything's launcher: `index.js stdio` serves MCP on stdin/stdout. */
export const everythingEntry = path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js")
/** Importing this module starts server-everything on stdio (what `index.js stdio` imports). */
export const everythingStdioModule = path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/transports/stdio.js")
/** The project's own SDK server with the conformance fixtures; it has the audio tool server-everything lacks. */
export const conformanceFixture = path.join(root, "test/fixtures/conformanceServer.mjs")

/** The admin key of these tests (keys are on for HTTP). */
export const ADMIN = "protocol-surface-admin-key-0123456789"
/** Every single wait of these tests ends after this long at most. */
export const WAIT_MS = 15_000
/** The tool that tells server-everything is up behind the router. */
export const EVERYTHING_TOOL = "get-tiny-image"

// ---------------------------------------------------------------------------------------------------------
// upstream configurations

/**
 * A stdio upstream run by the Node 24 binary. `marker` (a folder of this test run) is passed as a trailing
 * argument that neither server reads, so the processes a test started can be found and ended afterwards.
 */
export const stdioUpstream = (name: string, prefix: string, args: ReadonlyArray<string>, marker?: string) => ({
  name,
  prefix,
  transport: { type: "stdio", command: nodeBin, args: marker === undefined ? [...args] : [...args, marker] }
})

/** server-everything, unprefixed: its tools, resources and prompts under their own names. */
export const everythingUpstream = (marker?: string) => stdioUpstream("everything", "", [everythingEntry, "stdio"], marker)

/**
 * An upstream whose process waits until `gate` exists before it starts `module` (an SDK server started by
 * importing it): connected while the test's client is already there, its tools appear only then.
 */
export const gatedUpstream = (name: string, prefix: string, gate: string, module: string, marker?: string) =>
  stdioUpstream(name, prefix, [
    "-e",
    "const [gate, module] = process.argv.slice(1); const fs = require('node:fs'); const url = require('node:url');" +
    "const timer = setInterval(() => { if (fs.existsSync(gate)) { clearInterval(timer); import(url.pathToFileURL(module).href) } }, 50)",
    gate,
    module
  ], marker)

// ---------------------------------------------------------------------------------------------------------
// bounded waits, process hygiene

/** Polls `check` until it returns something other than undefined/false; fails naming `what` after `ms` (15 s here). */
export const waitFor = <A>(what: string, check: () => A | Promise<A>, ms = WAIT_MS, everyMs = 50) => pollFor(what, check, ms, everyMs)

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `promise`, or a rejection naming `what` after `ms`. */
export const within = <A>(promise: Promise<A>, what: string, ms = WAIT_MS): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}



const killQuietly = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

/** A temp folder of a test; its path also marks the processes started for it (see `stdioUpstream`). */
export { makeTempDir }

/** Ends the processes whose command line names `dir`, then removes it. */
export const removeDir = (dir: string) => {
  for (const pid of processesWith(dir)) killQuietly(pid)
  fs.rmSync(dir, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------------------
// notifications a client received

export interface Seen {
  readonly logs: Array<{ level: string; logger?: string; data: unknown }>
  readonly updated: Array<string>
  toolsChanged: number
  resourcesChanged: number
  promptsChanged: number
  /** Every message from the router, in the order the transport received it. */
  readonly received: Array<any>
}

/**
 * Records every message a connected transport hands its client, in order. The SDK client handles a
 * notification a microtask after the message it came in, but a response at once, so what it reports
 * (onprogress) can miss progress that arrived in the same read as the result; the transport's order cannot.
 */
const recordReceived = (transport: { onmessage?: ((message: any, extra?: any) => void) | undefined }, seen: Seen) => {
  const handle = transport.onmessage
  transport.onmessage = (message, extra) => {
    seen.received.push(message)
    handle?.(message, extra)
  }
}

/** Records the server notifications `client` receives (set before connecting, so none is missed). */
export const record = (client: Client): Seen => {
  const seen: Seen = { logs: [], updated: [], toolsChanged: 0, resourcesChanged: 0, promptsChanged: 0, received: [] }
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void seen.logs.push(n.params as any))
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void seen.updated.push(n.params.uri))
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void seen.toolsChanged++)
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void seen.resourcesChanged++)
  client.setNotificationHandler(PromptListChangedNotificationSchema, () => void seen.promptsChanged++)
  return seen
}

// ---------------------------------------------------------------------------------------------------------
// the router, over either transport

export interface ClientOptions {
  readonly name?: string
  readonly capabilities?: ClientCapabilities
  /** Called before connecting: request and notification handlers. */
  readonly setup?: (client: Client) => void
  /** Tools that must be listed before the client is handed out (default: server-everything's tiny-image tool). */
  readonly waitForTools?: ReadonlyArray<string>
}

export interface Connected {
  readonly client: Client
  readonly seen: Seen
  /** What the router process wrote on stderr (stdio only; empty for HTTP). */
  readonly stderr: () => string
}

export interface Surface {
  readonly kind: Kind
  /** The in-process HTTP router (http only). */
  readonly server: RunningServer | undefined
  /** The router's working folder (its file tools' root). */
  readonly workingDir: string
  /** An SDK client on the router with `options`; for stdio, a router process of its own. */
  readonly connect: (options?: ClientOptions) => Promise<Connected>
  readonly close: () => Promise<void>
}

export interface SurfaceOptions {
  readonly upstreams: ReadonlyArray<Record<string, unknown>>
  /** More configuration (tools, mcp, ...), the same for both transports. */
  readonly config?: Record<string, any>
  /** Upstream names to wait for (http: GET /api/upstreams says up). Default: all. */
  readonly waitForUpstreams?: ReadonlyArray<string>
}

export const toolNames = async (client: Client) => (await client.listTools(undefined, { timeout: WAIT_MS })).tools.map((t) => t.name)

const whenListed = (client: Client, names: ReadonlyArray<string>, where: string, stderr: () => string) =>
  waitFor(`tools ${names.join(", ")} listed ${where}`, async () => {
    const listed = await toolNames(client)
    return names.every((n) => listed.includes(n))
  }, WAIT_MS, 200).catch((error: Error) => {
    const log = stderr()
    throw new Error(log === "" ? error.message : `${error.message}\nrouter stderr (last 3000 characters):\n${log.slice(-3000)}`)
  })

/** GET /api/upstreams with the admin key. */
export const upstreamStates = async (server: RunningServer): Promise<Array<{ name: string; state: string; lastError: string | null; tools: Array<string> }>> => {
  const reply = await call(`${server.url}/api/upstreams`, { key: ADMIN, timeoutMs: WAIT_MS })
  if (reply.status !== 200) throw new Error(`GET /api/upstreams answered ${reply.status}: ${reply.text}`)
  return reply.json.upstreams
}

/** Waits until upstream `name` of the HTTP router is up. */
export const whenUp = (server: RunningServer, name: string) =>
  waitFor(`upstream ${name} up`, async () => {
    const states = await upstreamStates(server)
    return states.find((u) => u.name === name && u.state === "up")
  }, 20_000, 100).catch(async (error: Error) => {
    throw new Error(`${error.message}; GET /api/upstreams: ${JSON.stringify(await upstreamStates(server).catch(String))}`)
  })

/** POST /config with a new upstream list (admin key); throws unless applied. */
export const setUpstreams = async (server: RunningServer, upstreams: ReadonlyArray<Record<string, unknown>>) => {
  const reply = await call(`${server.url}/config`, { key: ADMIN, body: { upstreams }, timeoutMs: WAIT_MS })
  if (reply.status !== 200) throw new Error(`POST /config answered ${reply.status}: ${reply.text}`)
  return reply.json
}

const newClient = (options: ClientOptions) => {
  const client = new Client(
    { name: options.name ?? "protocol-surface", version: "1.0.0" },
    { capabilities: options.capabilities ?? {} }
  )
  const seen = record(client)
  options.setup?.(client)
  return { client, seen }
}

/** This process's environment without MCP_* variables. */
const cleanEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("MCP_") && value !== undefined) env[key] = value
  return env
}

/**
 * The HTTP router, started in this process with keys on, `options.upstreams` configured, and each of them
 * up before it is returned.
 */
export const startHttpSurface = async (options: SurfaceOptions, dir?: string): Promise<Surface> => {
  const { startServer } = await import("../support/server.ts")
  const server = await startServer({
    ...options.config,
    security: { requireApiKey: true, adminKey: ADMIN, maxRequestsPerMinute: 1_000_000, maxRequestsPerHour: 1_000_000, ...options.config?.security },
    upstreams: options.upstreams
  })
  const clients: Array<Client> = []
  const close = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)))
    await server.close()
    if (dir !== undefined) for (const pid of processesWith(dir)) killQuietly(pid)
  }
  try {
    for (const name of options.waitForUpstreams ?? options.upstreams.map((u) => u.name as string)) await whenUp(server, name)
  } catch (error) {
    await close()
    throw error
  }
  return {
    kind: "http",
    server,
    workingDir: server.workingDir,
    close,
    connect: async (clientOptions = {}) => {
      const { client, seen } = newClient(clientOptions)
      const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${ADMIN}` } }
      })
      clients.push(client)
      await client.connect(transport, { timeout: WAIT_MS })
      recordReceived(transport, seen)
      await whenListed(client, clientOptions.waitForTools ?? [EVERYTHING_TOOL], "over /mcp", () => "")
      return { client, seen, stderr: () => "" }
    }
  }
}

/** A config file for `src/main.ts stdio --config <file>`: the same upstreams, its own working and data folders. */
export const writeStdioConfig = (dir: string, options: SurfaceOptions) => {
  const workingDir = path.join(dir, "work")
  fs.mkdirSync(workingDir, { recursive: true })
  const file = path.join(dir, "mcp-router.json")
  fs.writeFileSync(file, JSON.stringify({
    ...options.config,
    tools: { ...options.config?.tools, workingDir },
    storage: { ...options.config?.storage, dataDir: path.join(dir, "data") },
    logging: { enableConsole: true, enableFile: false, level: "info", ...options.config?.logging },
    upstreams: options.upstreams
  }, null, 2))
  return { file, workingDir }
}

/**
 * The stdio router: each `connect` launches `node src/main.ts stdio --config <file>` through the SDK's stdio
 * transport (MCP_* variables of this process removed), and hands the client out once server-everything's
 * tools are listed. `dir` is a folder of the test; processes whose command line names it are ended on close.
 */
export const startStdioSurface = async (options: SurfaceOptions, dir: string): Promise<Surface> => {
  const { file, workingDir } = writeStdioConfig(dir, options)
  const clients: Array<{ client: Client; pid: () => number | null }> = []
  return {
    kind: "stdio",
    server: undefined,
    workingDir,
    close: async () => {
      const all = clients.splice(0)
      await Promise.all(all.map(({ client }) => client.close().catch(() => undefined)))
      for (const { pid } of all) {
        const id = pid()
        if (id !== null) killQuietly(id)
      }
      // upstream processes of these routers name `dir` in their arguments (see stdioUpstream's marker)
      for (const pid of processesWith(dir)) killQuietly(pid)
    },
    connect: async (clientOptions = {}) => {
      const { client, seen } = newClient(clientOptions)
      const transport = new StdioClientTransport({
        command: nodeBin,
        args: [path.join(root, "src/main.ts"), "stdio", "--config", file],
        cwd: root,
        env: cleanEnv(),
        stderr: "pipe"
      })
      let stderr = ""
      transport.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8")
        if (stderr.length > 200_000) stderr = stderr.slice(-100_000)
      })
      clients.push({ client, pid: () => transport.pid })
      try {
        await client.connect(transport, { timeout: 20_000 })
        recordReceived(transport, seen)
      } catch (error) {
        throw new Error(`stdio router did not initialize: ${String(error)}\nstderr:\n${stderr.slice(-3000)}`)
      }
      await whenListed(client, clientOptions.waitForTools ?? [EVERYTHING_TOOL], "over stdio", () => stderr)
      return { client, seen, stderr: () => stderr }
    }
  }
}

export const startSurface = (kind: Kind, options: SurfaceOptions, dir: string) =>
  kind === "http" ? startHttpSurface(options, dir) : startStdioSurface(options, dir)

// ---------------------------------------------------------------------------------------------------------
// the same servers, directly

/** An SDK client on a stdio server started directly (no router), closed by the returned close. */
export const connectDirect = async (args: ReadonlyArray<string>, options: ClientOptions = {}): Promise<Connected & { close: () => Promise<void> }> => {
  const { client, seen } = newClient({ name: "protocol-surface-direct", ...options })
  const transport = new StdioClientTransport({ command: nodeBin, args: [...args], cwd: root, stderr: "pipe" })
  let stderr = ""
  transport.stderr?.on("data", (chunk: Buffer) => void (stderr += chunk.toString("utf8")))
  await client.connect(transport, { timeout: WAIT_MS })
  return {
    client,
    seen,
    stderr: () => stderr,
    close: async () => {
      const pid = transport.pid
      await client.close().catch(() => undefined)
      if (pid !== null) killQuietly(pid)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// results

export const text = (result: any): string => (result?.content ?? []).map((c: any) => c.text ?? "").join("\n")

/** A tool call's outcome as data: its result, or the error it was refused with. */
export const outcome = async (promise: Promise<unknown>): Promise<{ result?: any; error?: any }> => {
  try {
    return { result: await promise }
  } catch (error) {
    return { error }
  }
}

/** Toggles a server-everything on/off tool (state per upstream connection) until its answer starts with `want`. */
export const toggleTo = async (client: Client, tool: string, want: "Started" | "Stopped") => {
  for (let i = 0; i < 2; i++) {
    const result: any = await client.callTool({ name: tool, arguments: {} }, undefined, { timeout: WAIT_MS })
    if (text(result).startsWith(want)) return result
  }
  throw new Error(`${tool} did not answer "${want} ..." within two calls`)
}
