/**
 * The container image of deploy/Dockerfile, built with podman from a Debian base made here (debootstrap,
 * Node 24 from the npm node package: test/deploy/base-image.sh) and run the way deploy/ runs it: read-only
 * root filesystem, /tmp in memory, state and workspace in volumes. Checks readiness, a tools/call with the
 * official SDK client over Streamable HTTP, the HEALTHCHECK, the user, the read-only root, what the image
 * holds, and a graceful stop.
 *
 * `.ci/run` builds the image before the tests (MCP_TEST_IMAGE names it), so the build does not load the
 * machine while other tests run; without it the test builds the image itself. Skipped only when podman is
 * missing and CI is not set: under CI it runs, and fails without podman.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, root, run, runOk, waitForStatus } from "./support.ts"

const hasPodman = spawnSync("podman", ["--version"], { stdio: "ignore" }).status === 0
const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"
if (!hasPodman && !inCi) {
  console.warn("test/deploy/image.test.ts skipped: podman is not installed (bash .ci/podman.sh installs it; under CI=true this test runs)")
}

const adminKey = "mcp_image_test_admin_key_0123456789abcdef"
const id = `${process.pid}-${Date.now().toString(36)}`
const container = `mcp-router-image-test-${id}`
const volumes = [`mcp-router-image-test-${id}-data`, `mcp-router-image-test-${id}-workspace`]
/** podman's default runtime (crun) refuses these machines' hybrid cgroups; runc needs ulimits no higher than the machine's */
const runtime = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]
const podman = (args: ReadonlyArray<string>, timeoutMs = 60_000) => runOk("podman", args, { timeoutMs })

describe.skipIf(!hasPodman && !inCi)("the container image (podman)", () => {
  let image: string
  let port: number
  let buildSeconds = 0

  beforeAll(async () => {
    const started = Date.now()
    image = process.env["MCP_TEST_IMAGE"] ||
      (await runOk("bash", [path.join(root, "test/deploy/build-image.sh")], {
        env: { ...process.env, MCP_TEST_IMAGE_NAME: `localhost/mcp-router-pro:test-${id}` },
        timeoutMs: 1_500_000
      })).stdout.trim().split("\n").pop()!
    buildSeconds = (Date.now() - started) / 1000
    port = await freePort()
    for (const volume of volumes) await podman(["volume", "create", volume])
    await podman([
      "run", "-d", "--name", container, ...runtime,
      "--read-only", "--tmpfs", "/tmp",
      "-v", `${volumes[0]}:/data`, "-v", `${volumes[1]}:/workspace`,
      "-e", `MCP_ADMIN_KEY=${adminKey}`,
      "-p", `127.0.0.1:${port}:3001`,
      image
    ])
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 60_000).catch(async (error) => {
      const logs = await run("podman", ["logs", container])
      throw new Error(`${String(error)}\n${logs.stdout}${logs.stderr}`)
    })
  }, 1_600_000)

  afterAll(async () => {
    await run("podman", ["rm", "-f", "-t", "2", container], { timeoutMs: 60_000 }).catch(() => undefined)
    for (const volume of volumes) await run("podman", ["volume", "rm", "-f", volume]).catch(() => undefined)
    if (!process.env["MCP_TEST_IMAGE"] && image) await run("podman", ["rmi", "-f", image]).catch(() => undefined)
  }, 120_000)

  it("is ready, and serves tools/call to the official SDK client over Streamable HTTP at /mcp", async () => {
    console.log(`image ${image}: ${buildSeconds.toFixed(0)} s to build or find`)
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`)
    expect(ready.status).toBe(200)
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${adminKey}` } }
    })
    const client = new Client({ name: "image-test", version: "1.0.0" })
    await client.connect(transport)
    try {
      const { tools } = await client.listTools()
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["read_file", "write_file"]))
      const written = await client.callTool({ name: "write_file", arguments: { path: "note.txt", content: "kept in the workspace volume" } })
      expect(written.isError ?? false).toBe(false)
      const read = await client.callTool({ name: "read_file", arguments: { path: "note.txt" } })
      expect(read.isError ?? false).toBe(false)
      expect(JSON.stringify(read.content)).toContain("kept in the workspace volume")
    } finally {
      await client.close()
    }
  })

  it("runs as a non-root user, every process of it", async () => {
    const pid = (await podman(["inspect", "-f", "{{.State.Pid}}", container])).stdout.trim()
    const uids = [pid, ...(await run("pgrep", ["-P", pid])).stdout.split("\n").filter((line) => line !== "")].map((p) => {
      const status = fs.readFileSync(`/proc/${p}/status`, "utf8")
      return { name: /^Name:\s*(.*)$/m.exec(status)![1], uid: Number(/^Uid:\s*(\d+)/m.exec(status)![1]) }
    })
    expect(uids.length).toBeGreaterThanOrEqual(2)
    expect(uids[0]!.name).toBe("tini")
    for (const { uid } of uids) expect(uid).toBe(10001)
    expect((await podman(["exec", container, "id", "-u"])).stdout.trim()).toBe("10001")
  })

  it("runs on a read-only root filesystem, writing only to its volumes and /tmp", async () => {
    expect((await podman(["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", container])).stdout.trim()).toBe("true")
    const app = await run("podman", ["exec", container, "touch", "/app/written"])
    expect(app.code).not.toBe(0)
    expect(app.stderr).toContain("Read-only file system")
    for (const writable of ["/data/probe", "/workspace/probe", "/tmp/probe"]) {
      await podman(["exec", container, "touch", writable])
      await podman(["exec", container, "rm", writable])
    }
    // the router's state is in the data volume
    expect((await podman(["exec", container, "ls", "/data"])).stdout).toContain("mcp-router.db")
  })

  it("has a HEALTHCHECK that uses node on /health/live, and passes it", async () => {
    const config = JSON.parse((await podman(["image", "inspect", image])).stdout)[0].Config ?? {}
    const check = JSON.stringify(config.Healthcheck ?? JSON.parse((await podman(["image", "inspect", "--format", "{{json .HealthCheck}}", image])).stdout))
    expect(check).toContain("/health/live")
    expect(check).toContain("node")
    expect(check).not.toContain("curl")
    const result = await run("podman", ["healthcheck", "run", container], { timeoutMs: 30_000 })
    expect(result.code).toBe(0)
  })

  it("holds the launcher, dist/ and production dependencies only", async () => {
    const listing = await runOk("podman", [
      "run", "--rm", ...runtime, "--entrypoint", "sh", image, "-c",
      "ls /app; echo ---; ls /app/node_modules; echo ---; ls /app/node_modules/@modelcontextprotocol 2>/dev/null; echo ---; command -v tini; echo ---; ls /app/bin"
    ], { timeoutMs: 60_000 })
    const [app, modules, mcpPackages, tini, bin] = listing.stdout.split("---\n").map((part) => part.split("\n").filter((line) => line !== ""))
    expect(app!.sort()).toEqual(["LICENSE", "bin", "config", "dist", "node_modules", "package.json"])
    expect(bin).toEqual(["mcp-router.js"])
    for (const name of ["effect", "@effect", "ws"]) expect(modules).toContain(name)
    // no devDependency, and not the optional node package: the image has its own Node.js
    for (const name of ["typescript", "vitest", "node", "autocannon", "yaml"]) expect(modules).not.toContain(name)
    for (const name of ["conformance", "server-everything", "server-filesystem"]) expect(mcpPackages ?? []).not.toContain(name)
    expect(tini).toEqual(["/usr/bin/tini"])
  })

  it("stops gracefully on SIGTERM (tini passes it on) and exits 0", async () => {
    await podman(["stop", "-t", "20", container], 60_000)
    expect((await podman(["inspect", "-f", "{{.State.ExitCode}}", container])).stdout.trim()).toBe("0")
    const logs = await run("podman", ["logs", container])
    expect(logs.stdout + logs.stderr).toContain("HTTP server stopped")
  })
})
