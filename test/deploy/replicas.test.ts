/**
 * The scaled set-up of deploy/ as shipped: docker-compose.replicas.yml (three router replicas behind
 * HAProxy, PostgreSQL and Redis), replicas/haproxy.cfg and replicas/mcp-router.json, and the kustomize
 * overlay deploy/k8s-replicas (three replicas of deploy/k8s with the PostgreSQL and Redis connection
 * Secrets). Read as files, rendered by `kubectl kustomize`, validated against the Kubernetes API schemas,
 * checked by `haproxy -c`, and the shipped HAProxy configuration run in front of three real router
 * processes sharing PostgreSQL and Redis (with the server addresses and the port of this machine).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parse, parseAllDocuments } from "yaml"
import { RouterConfig } from "../../src/config/schema.ts"
import { cleanupAfterAll } from "../shared/support.ts"
import { ADMIN_KEY, kill, mcpPosts, type Replicas, serversAvailable, skipReason, startReplicas, upstream, within } from "../scale/support.ts"
import { freePort, makeTempDir, root } from "./support.ts"

cleanupAfterAll()

const deploy = path.join(root, "deploy")
const read = (file: string) => fs.readFileSync(path.join(deploy, file), "utf8")
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"

const dockerfile = read("Dockerfile")
const imagePort = Number(/^EXPOSE\s+(\d+)/mu.exec(dockerfile)![1])
const imageEnv = (name: string) => new RegExp(`${name}=(\\S+)`, "u").exec(dockerfile)![1]!

const haproxyBinary = (() => {
  const found = spawnSync("sh", ["-c", "command -v haproxy"], { encoding: "utf8" })
  return found.status === 0 ? found.stdout.trim() : undefined
})()

/** An IPv4 address as a number, and whether it is inside a CIDR range. */
const ipv4 = (address: string) => address.split(".").reduce((n, part) => n * 256 + Number(part), 0)
const inRange = (address: string, cidr: string) => {
  const [base, bits] = cidr.split("/")
  const size = 2 ** (32 - Number(bits))
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base!) / size)
}

describe("docker-compose.replicas.yml", () => {
  const compose = parse(read("docker-compose.replicas.yml"))
  const single = parse(read("docker-compose.yml"))
  const routerNames = Object.keys(compose.services).filter((name) => compose.services[name].build !== undefined)
  const routers = routerNames.map((name) => compose.services[name])
  const config = JSON.parse(read("replicas/mcp-router.json"))
  const haproxy = read("replicas/haproxy.cfg")
  const lines = haproxy.split("\n").map((line) => line.replace(/#.*$/u, "").trim()).filter((line) => line !== "")
  /** The lines of one section ("backend routers"), up to the next section. */
  const section = (header: string) => {
    const at = lines.indexOf(header)
    expect(at, `haproxy.cfg has "${header}"`).toBeGreaterThanOrEqual(0)
    const end = lines.findIndex((line, i) => i > at && /^(global|defaults|frontend|backend|listen|resolvers)\b/u.test(line))
    return lines.slice(at + 1, end === -1 ? undefined : end)
  }

  it("runs three router replicas of one image and one configuration, none published: only the load balancer is", () => {
    expect(routerNames).toEqual(["router-a", "router-b", "router-c"])
    for (const router of routers) {
      expect(router).toEqual(routers[0])
      expect(router.ports).toBeUndefined()
    }
    const [router] = routers
    // the same image, built the same way, with the same hardening as the single router
    expect(router.image).toBe(`mcp-router-pro:${manifest.version}`)
    expect(router.build).toEqual(single.services.router.build)
    expect(fs.existsSync(path.join(deploy, router.build.context, router.build.dockerfile))).toBe(true)
    expect(router.read_only).toBe(true)
    expect(router.cap_drop).toEqual(["ALL"])
    expect(router.security_opt).toEqual(single.services.router.security_opt)
    expect(router.tmpfs.some((t: string) => t.startsWith("/tmp"))).toBe(true)
    expect(router.environment.MCP_ADMIN_KEY_FILE).toBe(single.services.router.environment.MCP_ADMIN_KEY_FILE)
    expect(router.secrets).toEqual(["mcp_admin_key"])
    expect(compose.secrets.mcp_admin_key).toEqual(single.secrets.mcp_admin_key)
    // one workspace for the three
    expect(router.volumes).toContain(`router-workspace:${imageEnv("MCP_WORKING_DIR")}`)
    expect(compose.services.lb.ports).toEqual([`${imagePort}:${imagePort}`])
  })

  it("gives every replica MCP_STORAGE_URL and MCP_REDIS_URL naming the postgres and redis services, started first and healthy", () => {
    const [router] = routers
    const storage = new URL(router.environment.MCP_STORAGE_URL.replace("${POSTGRES_PASSWORD:-mcp_router}", "mcp_router"))
    const postgres = compose.services.postgres
    expect(storage.protocol).toBe("postgres:")
    expect(storage.hostname).toBe("postgres")
    expect(storage.port).toBe("5432")
    expect(storage.username).toBe(postgres.environment.POSTGRES_USER)
    expect(storage.pathname).toBe(`/${postgres.environment.POSTGRES_DB}`)
    // the password is the one the server is started with
    expect(router.environment.MCP_STORAGE_URL).toContain(`:${postgres.environment.POSTGRES_PASSWORD}@`)
    const redis = new URL(router.environment.MCP_REDIS_URL)
    expect(redis.protocol).toBe("redis:")
    expect(redis.hostname).toBe("redis")
    expect(compose.services.redis.healthcheck).toBeDefined()
    expect(postgres.healthcheck).toBeDefined()
    expect(router.depends_on).toEqual({ postgres: { condition: "service_healthy" }, redis: { condition: "service_healthy" } })
    for (const name of ["redis", "postgres", "lb"]) expect(compose.services[name].profiles, name).toBeUndefined()
    expect(postgres.ports).toBeUndefined()
    expect(compose.services.redis.ports).toBeUndefined()
  })

  it("configures the replicas with a file the router's Schema accepts, trusting X-Forwarded-For from the load balancer alone", () => {
    const [router] = routers
    const mount = router.volumes.find((v: string) => v.split(":")[1] === router.environment.MCP_CONFIG)
    expect(mount, "the config file is mounted where MCP_CONFIG says").toBeDefined()
    expect(path.join(deploy, mount.split(":")[0])).toBe(path.join(deploy, "replicas/mcp-router.json"))
    const decoded = Schema.decodeUnknownSync(RouterConfig, { onExcessProperty: "error" })(config)
    expect(decoded.server.port).toBe(imagePort)
    expect(decoded.tools.workingDir).toBe(imageEnv("MCP_WORKING_DIR"))
    expect(decoded.storage.dataDir).toBe(imageEnv("MCP_DATA_DIR"))
    expect(decoded.security.requireApiKey).toBe(true)
    // HAProxy has a fixed address on the compose network, the only one trusted
    const address = compose.services.lb.networks.mcp.ipv4_address as string
    const subnet = compose.networks.mcp.ipam.config[0].subnet as string
    expect(inRange(address, subnet), `${address} in ${subnet}`).toBe(true)
    expect(decoded.security.trustedProxies).toEqual([address])
    for (const name of [...routerNames, "redis", "postgres"]) expect(compose.services[name].networks, name).toEqual(["mcp"])
  })

  it("balances every request round-robin over the replicas, without stickiness, leaving out those not ready", () => {
    const lb = compose.services.lb
    const cfg = lb.volumes.find((v: string) => v.split(":")[1] === "/usr/local/etc/haproxy/haproxy.cfg")
    expect(cfg, "haproxy.cfg is mounted where the haproxy image reads it").toBeDefined()
    expect(path.join(deploy, cfg.split(":")[0])).toBe(path.join(deploy, "replicas/haproxy.cfg"))
    expect(lb.image).toMatch(/^haproxy:\d/u)
    expect(lb.depends_on).toEqual(routerNames)

    expect(section("defaults")).toContain("mode http")
    expect(section("defaults")).toContain("option forwardfor")
    expect(section("frontend mcp")).toContain(`bind :${imagePort}`)
    const backend = section("backend routers")
    expect(backend).toContain("balance roundrobin")
    // nothing that pins a client to a replica
    for (const line of lines) expect(line).not.toMatch(/^(cookie|stick|stick-table|hash-type)\b|^balance\s+(source|hdr|uri|url_param|rdp-cookie)/u)
    expect(lines).not.toContain("option prefer-last-server")
    // one server per replica, on the router's port, checked on /health/ready
    const servers = backend.filter((line) => line.startsWith("server ")).map((line) => line.split(/\s+/u))
    expect(servers.map(([, name, address]) => [name, address])).toEqual(routerNames.map((name) => [name, `${name}:${imagePort}`]))
    expect(backend).toContain("option httpchk")
    expect(backend).toContain("http-check send meth GET uri /health/ready")
    expect(backend.some((line) => line.startsWith("default-server") && /\bcheck\b/u.test(line))).toBe(true)
    // long-lived GET streams and WebSockets are not cut after the usual HTTP timeouts
    const timeout = (name: string) => section("defaults").find((line) => line.startsWith(`timeout ${name} `))?.split(/\s+/u)[2]
    for (const name of ["client", "server", "tunnel"]) expect(timeout(name), `timeout ${name}`).toBe("1h")
  })

  it.skipIf(haproxyBinary === undefined)(`passes haproxy -c${haproxyBinary === undefined ? " (haproxy is not installed)" : ""}`, () => {
    const checked = spawnSync(haproxyBinary!, ["-c", "-f", path.join(deploy, "replicas/haproxy.cfg")], { encoding: "utf8" })
    expect(checked.status, checked.stdout + checked.stderr).toBe(0)
    expect(checked.stdout).toContain("Configuration file is valid")
  })
})

/** kustomize's output for the overlay: `kubectl kustomize` on a copy of deploy/k8s and deploy/k8s-replicas with the env files made from their examples. */
const renderOverlay = (): Array<any> | string => {
  const copy = makeTempDir("mcp-router-k8s-replicas-")
  try {
    fs.cpSync(path.join(deploy, "k8s"), path.join(copy, "k8s"), { recursive: true })
    fs.cpSync(path.join(deploy, "k8s-replicas"), path.join(copy, "k8s-replicas"), { recursive: true })
    fs.copyFileSync(path.join(copy, "k8s/admin-key.env.example"), path.join(copy, "k8s/admin-key.env"))
    for (const name of ["postgres", "redis"]) fs.copyFileSync(path.join(copy, `k8s-replicas/${name}.env.example`), path.join(copy, `k8s-replicas/${name}.env`))
    const kubectl = spawnSync("kubectl", ["kustomize", path.join(copy, "k8s-replicas")], { encoding: "utf8" })
    if (kubectl.status === 0) return parseAllDocuments(kubectl.stdout).map((doc) => doc.toJS())
    if (inCi) throw new Error(`kubectl kustomize failed under CI: ${kubectl.error ?? kubectl.stderr}`)
    return kubectl.error?.message ?? kubectl.stderr.trim()
  } finally {
    fs.rmSync(copy, { recursive: true, force: true })
  }
}
const overlay = renderOverlay()
if (typeof overlay === "string") console.warn(`kubectl kustomize is not available (${overlay}): the overlay deploy/k8s-replicas is not rendered`)

describe.skipIf(typeof overlay === "string")("the Kubernetes overlay deploy/k8s-replicas (kubectl kustomize)", () => {
  const objects = overlay as Array<any>
  const find = (kind: string) => {
    const found = objects.filter((object) => object.kind === kind)
    expect(found, `one ${kind}`).toHaveLength(1)
    return found[0]
  }
  const deployment = () => find("Deployment")
  const container = () => deployment().spec.template.spec.containers[0]
  const secretOf = (env: string) => {
    const entry = container().env.find((e: any) => e.name === env)
    expect(entry?.valueFrom?.secretKeyRef, `${env} comes from a Secret`).toBeDefined()
    const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === entry.valueFrom.secretKeyRef.name)
    expect(secret, `the Secret ${entry.valueFrom.secretKeyRef.name}`).toBeDefined()
    return Buffer.from(secret.data[entry.valueFrom.secretKeyRef.key], "base64").toString("utf8").trim()
  }

  it("renders the base's objects without its PersistentVolumeClaim, plus the two connection Secrets, each valid against the Kubernetes API schemas", async () => {
    expect(objects.map((object) => object.kind).sort()).toEqual(["ConfigMap", "Deployment", "Namespace", "NetworkPolicy", "PodDisruptionBudget", "Secret", "Secret", "Secret", "Service"])
    for (const rendered of objects) {
      // kustomize wraps the base64 of a long value (a database URL) over lines; the API server's decoder
      // skips the line breaks, the schema's "byte" format does not: compare without them
      const object = rendered.kind === "Secret"
        ? { ...rendered, data: Object.fromEntries(Object.entries(rendered.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s/gu, "")])) }
        : rendered
      const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : [undefined, object.apiVersion]
      const models = await import(group === undefined ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`)
      expect(() => new models[object.kind](object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow()
      if (object.kind !== "Namespace") expect(object.metadata.namespace, object.kind).toBe("mcp-router")
    }
  })

  it("runs three replicas, rolled one at a time, spread over nodes, with no volume of their own to share", () => {
    const spec = deployment().spec
    expect(spec.replicas).toBe(3)
    expect(spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } })
    expect(spec.template.spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: spec.selector.matchLabels } })
    for (const volume of spec.template.spec.volumes) expect(volume.persistentVolumeClaim, volume.name).toBeUndefined()
    const mounts = container().volumeMounts.map((m: any) => m.mountPath)
    expect(mounts).toContain(imageEnv("MCP_DATA_DIR"))
    // the base's hardening and probes are kept
    expect(container().securityContext.readOnlyRootFilesystem).toBe(true)
    expect(container().readinessProbe.httpGet.path).toBe("/health/ready")
  })

  it("reads MCP_STORAGE_URL and MCP_REDIS_URL from their Secrets (made of postgres.env and redis.env, not committed), MCP_ADMIN_KEY as before", () => {
    expect(new URL(secretOf("MCP_STORAGE_URL")).protocol).toBe("postgres:")
    expect(new URL(secretOf("MCP_REDIS_URL")).protocol).toBe("redis:")
    expect(secretOf("MCP_ADMIN_KEY").length).toBeGreaterThanOrEqual(24)
    const names = container().env.map((e: any) => e.name)
    expect(new Set(names).size, "no variable twice").toBe(names.length)
    for (const file of ["postgres.env", "redis.env"]) {
      const ignored = spawnSync("git", ["check-ignore", "-q", `deploy/k8s-replicas/${file}`], { cwd: root })
      expect(ignored.status, `git ignores deploy/k8s-replicas/${file}`).toBe(0)
    }
  })

  it("balances without affinity, keeps at most one replica down in a drain, and lets the pods reach PostgreSQL and Redis", () => {
    expect(find("Service").spec.sessionAffinity ?? "None").toBe("None")
    const budget = find("PodDisruptionBudget").spec
    expect(budget.maxUnavailable === 1 || budget.minAvailable >= 2, JSON.stringify(budget)).toBe(true)
    const egress = find("NetworkPolicy").spec.egress as Array<{ ports?: Array<{ port: number }> }>
    const ports = egress.flatMap((rule) => (rule.ports ?? []).map((p) => p.port))
    for (const port of [53, 5432, 6379]) expect(ports).toContain(port)
  })
})

describe.skipIf((!serversAvailable || haproxyBinary === undefined) && !inCi)(
  `the shipped HAProxy configuration in front of three router replicas${haproxyBinary === undefined ? " (haproxy is not installed)" : serversAvailable ? "" : ` (${skipReason})`}`,
  () => {
    let replicas: Replicas
    let haproxy: ChildProcess | undefined
    let haproxyOutput = ""
    let url: string
    const clients: Array<Client> = []

    beforeAll(async () => {
      if (haproxyBinary === undefined) throw new Error("haproxy is not installed (apt-get install haproxy)")
      replicas = await startReplicas({ upstreams: [upstream("fixture", "")] })
      // the shipped file, with this machine's addresses for the replicas and a free port for the front
      const port = await freePort()
      let cfg = read("replicas/haproxy.cfg").replace(`bind :${imagePort}`, `bind 127.0.0.1:${port}`)
      for (const router of replicas.routers) cfg = cfg.replace(`router-${router.name}:${imagePort}`, new URL(router.url).host)
      const dir = makeTempDir("mcp-haproxy-")
      fs.writeFileSync(path.join(dir, "haproxy.cfg"), cfg)
      haproxy = spawn(haproxyBinary, ["-db", "-f", path.join(dir, "haproxy.cfg")], { stdio: ["ignore", "pipe", "pipe"] })
      haproxy.stdout!.on("data", (chunk) => (haproxyOutput += String(chunk)))
      haproxy.stderr!.on("data", (chunk) => (haproxyOutput += String(chunk)))
      url = `http://127.0.0.1:${port}`
      const ready = await within(async () => {
        try {
          return (await fetch(`${url}/health/ready`)).status === 200
        } catch {
          return false
        }
      }, 20_000)
      expect(ready, `haproxy answers /health/ready: ${haproxyOutput}`).toBeDefined()
      for (const router of replicas.routers) {
        expect(await within(async () => {
          const reply = await fetch(`${router.url}/api/upstreams`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
          const body = (await reply.json()) as { readonly upstreams?: ReadonlyArray<{ readonly state: string }> }
          return (body.upstreams ?? []).every((u) => u.state === "up")
        }, 30_000), `the fixture upstream is up on ${router.name}`).toBeDefined()
      }
    }, 90_000)

    afterAll(async () => {
      await Promise.all(clients.map((client) => client.close().catch(() => {})))
      haproxy?.kill("SIGKILL")
      for (const router of replicas?.routers ?? []) await kill(router)
      await replicas?.drop()
    }, 30_000)

    it("sends the requests of one SDK session (one kept-alive connection) to all three replicas, progress streams included, and leaves out a replica that died", async () => {
      const before = await Promise.all(replicas.routers.map(mcpPosts))
      // the SDK client's own fetch: connections kept alive, as any client does
      const client = new Client({ name: "through-haproxy", version: "1.0.0" })
      clients.push(client)
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ADMIN_KEY}` } } }))
      const progress: Array<number> = []
      const result = await client.callTool({ name: "test_tool_with_progress", arguments: {} }, undefined, { onprogress: (p) => void progress.push(p.progress) })
      expect(result.content).toEqual([{ type: "text", text: "Tool with progress executed successfully" }])
      expect(progress.length).toBeGreaterThan(0)
      for (let i = 0; i < 6; i++) expect((await client.callTool({ name: "test_simple_text", arguments: {} })).isError).toBeFalsy()
      const after = await Promise.all(replicas.routers.map(mcpPosts))
      const served = replicas.routers.map((router, i) => [router.name, after[i]! - before[i]!] as const)
      for (const [name, count] of served) expect(count, `POSTs answered by replica ${name}: ${JSON.stringify(served)}`).toBeGreaterThanOrEqual(2)

      // one replica dies: the session goes on on the two others, not one call failing once it is gone
      await kill(replicas.routers[0]!)
      const outcomes: Array<string> = []
      for (let i = 0; i < 12; i++) {
        try {
          const call = await client.callTool({ name: "test_simple_text", arguments: {} }, undefined, { timeout: 5_000 })
          outcomes.push(call.isError === true ? `error ${JSON.stringify(call.content)}` : "ok")
        } catch (error) {
          outcomes.push(String(error))
        }
      }
      expect(outcomes.filter((o) => o !== "ok"), `${outcomes.join("; ")}\n${haproxyOutput.slice(-2000)}`).toEqual([])
    }, 60_000)
  }
)
