/**
 * deploy/ read as a whole: the Kubernetes manifests rendered by kustomize (`kubectl kustomize`) and
 * validated against the Kubernetes API schemas (the kubernetes-models package), docker-compose.yml, the
 * Dockerfile and the router's own configuration agree on the port, the user, the probes, the folders,
 * the read-only root and the admin key.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { parse, parseAllDocuments } from "yaml"
import { RouterConfig } from "../../src/config/schema.ts"
import { makeTempDir, root } from "./support.ts"

const deploy = path.join(root, "deploy")
const read = (file: string) => fs.readFileSync(path.join(deploy, file), "utf8")
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"

// ---- the Dockerfile, read instruction by instruction (continuation lines joined)
const dockerfile = read("Dockerfile").replace(/\\\n/g, " ").split("\n").filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
const stages = dockerfile.reduce<Array<Array<string>>>((all, line) => {
  if (/^FROM\s/i.test(line)) all.push([])
  all[all.length - 1]?.push(line)
  return all
}, [])
const finalStage = stages[stages.length - 1]!
const instruction = (name: string, lines: ReadonlyArray<string> = finalStage) =>
  lines.filter((line) => line.toUpperCase().startsWith(`${name} `)).map((line) => line.slice(name.length).trim())
const image = {
  port: Number(instruction("EXPOSE")[0]),
  user: instruction("USER")[0]!.split(":").map(Number) as [number, number],
  volumes: JSON.parse(instruction("VOLUME")[0]!) as Array<string>,
  env: Object.fromEntries([...instruction("ENV").join(" ").matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
  healthcheck: instruction("HEALTHCHECK")[0] ?? "",
  entrypoint: JSON.parse(instruction("ENTRYPOINT")[0]!) as Array<string>
}

/** The kustomize output: `kubectl kustomize` on a copy with an admin key file, else the listed files. */
const renderKustomize = (): { objects: Array<any>; renderedBy: string } => {
  const copy = makeTempDir("mcp-router-k8s-")
  fs.cpSync(path.join(deploy, "k8s"), copy, { recursive: true })
  fs.copyFileSync(path.join(copy, "admin-key.env.example"), path.join(copy, "admin-key.env"))
  const kubectl = spawnSync("kubectl", ["kustomize", copy], { encoding: "utf8" })
  fs.rmSync(copy, { recursive: true, force: true })
  if (kubectl.status === 0) return { objects: parseAllDocuments(kubectl.stdout).map((doc) => doc.toJS()), renderedBy: "kubectl kustomize" }
  if (inCi) throw new Error(`kubectl kustomize failed under CI: ${kubectl.error ?? kubectl.stderr}`)
  console.warn(`kubectl kustomize is not available (${kubectl.error?.message ?? kubectl.stderr.trim()}): the manifests are read as listed in kustomization.yaml`)
  const kustomization = parse(read("k8s/kustomization.yaml"))
  const objects = (kustomization.resources as Array<string>).flatMap((file) => parseAllDocuments(read(`k8s/${file}`)).map((doc) => doc.toJS()))
  objects.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "mcp-router-admin" }, data: { MCP_ADMIN_KEY: "" } })
  return { objects, renderedBy: "the files" }
}
const { objects, renderedBy } = renderKustomize()
const find = (kind: string) => {
  const found = objects.filter((object) => object.kind === kind)
  expect(found, `one ${kind}`).toHaveLength(1)
  return found[0]
}

describe("the Dockerfile", () => {
  it("builds in stages from NODE_IMAGE (node:24-slim by default) and ships dist/ and production dependencies only", () => {
    expect(dockerfile[0]).toBe("ARG NODE_IMAGE=node:24-slim")
    expect(stages.length).toBeGreaterThanOrEqual(2)
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM \$\{NODE_IMAGE\}/)
    const copies = instruction("COPY")
    expect(copies.some((copy) => /--from=\w+ \S*\/dist \.\/dist/.test(copy))).toBe(true)
    expect(copies.some((copy) => /--from=\w+ \S*node_modules/.test(copy))).toBe(true)
    expect(copies.join("\n")).not.toMatch(/\bsrc\b|\btest\b|\bbench\b/)
    const installs = stages.flat().filter((line) => /npm ci/.test(line))
    expect(installs.some((line) => /--omit=dev/.test(line) && /--omit=optional/.test(line))).toBe(true)
  })

  it("runs as a non-root user under tini, with a HEALTHCHECK by node on /health/live and its state in volumes", () => {
    expect(image.user[0]).toBeGreaterThan(0)
    expect(image.entrypoint.slice(0, 2)).toEqual(["/usr/bin/tini", "--"])
    expect(image.healthcheck).toContain("/health/live")
    expect(image.healthcheck).toContain('"node"')
    expect(image.healthcheck).not.toMatch(/curl|wget/)
    expect(image.volumes).toContain(image.env["MCP_DATA_DIR"])
    expect(image.volumes).toContain(image.env["MCP_WORKING_DIR"])
    expect(Number(image.env["MCP_PORT"])).toBe(image.port)
  })

  it("gets a build context without tests, CI scripts, benchmarks or local state (.dockerignore)", () => {
    const rules = fs.readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"))
    expect(rules[0]).toBe("*")
    const allowed = rules.filter((rule) => rule.startsWith("!")).map((rule) => rule.slice(1).replace(/\/$/, ""))
    for (const copied of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "src", "config/mcp-router.json"]) expect(allowed).toContain(copied)
    for (const left of ["test", ".ci", "bench", "node_modules", "dist", "data", "workspace", ".git"]) expect(allowed).not.toContain(left)
  })
})

describe(`the Kubernetes manifests (${renderedBy})`, () => {
  it("render every kind the deployment needs, each valid against the Kubernetes API schemas", async () => {
    const kinds = objects.map((object) => object.kind).sort()
    expect(kinds).toEqual(["ConfigMap", "Deployment", "Namespace", "NetworkPolicy", "PersistentVolumeClaim", "PodDisruptionBudget", "Secret", "Service"])
    for (const object of objects) {
      const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : [undefined, object.apiVersion]
      const models = await import(group === undefined ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`)
      const Model = models[object.kind]
      expect(Model, `${object.apiVersion} ${object.kind} is a known API type`).toBeDefined()
      expect(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow()
    }
  })

  it("put every object in the router's namespace, and the Service, PodDisruptionBudget and NetworkPolicy select the Deployment's pods", () => {
    const namespace = find("Namespace").metadata.name
    for (const object of objects.filter((o) => o.kind !== "Namespace")) expect(object.metadata.namespace, object.kind).toBe(namespace)
    const labels = find("Deployment").spec.template.metadata.labels
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value)
    expect(selects(find("Deployment").spec.selector.matchLabels)).toBe(true)
    expect(selects(find("Service").spec.selector)).toBe(true)
    expect(selects(find("PodDisruptionBudget").spec.selector.matchLabels)).toBe(true)
    expect(selects(find("NetworkPolicy").spec.podSelector.matchLabels)).toBe(true)
  })

  it("run the container as the image's non-root user, with a read-only root, no privileges and no capabilities", () => {
    const pod = find("Deployment").spec.template.spec
    const container = pod.containers[0]
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: image.user[0], runAsGroup: image.user[1], fsGroup: image.user[1] })
    expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault")
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: image.user[0],
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] }
    })
    expect(pod.automountServiceAccountToken).toBe(false)
  })

  it("probe /health/live and /health/ready on the router's port, and set requests and limits", () => {
    const container = find("Deployment").spec.template.spec.containers[0]
    const port = container.ports.find((p: any) => p.name === container.livenessProbe.httpGet.port)
    expect(port.containerPort).toBe(image.port)
    expect(container.livenessProbe.httpGet.path).toBe("/health/live")
    expect(container.startupProbe.httpGet.path).toBe("/health/live")
    expect(container.readinessProbe.httpGet).toMatchObject({ path: "/health/ready", port: port.name })
    for (const resource of ["cpu", "memory"]) {
      expect(container.resources.requests[resource], `requests.${resource}`).toBeDefined()
      expect(container.resources.limits[resource], `limits.${resource}`).toBeDefined()
    }
    const service = find("Service").spec.ports[0]
    expect(service.port).toBe(image.port)
    expect(service.targetPort).toBe(port.name)
    expect(find("NetworkPolicy").spec.ingress[0].ports[0].port).toBe(image.port)
  })

  it("mount a volume on every folder the router writes (its VOLUMEs and /tmp), and the configuration", () => {
    const pod = find("Deployment").spec.template.spec
    const mounts = pod.containers[0].volumeMounts.map((m: any) => m.mountPath)
    for (const folder of [...image.volumes, "/tmp"]) expect(mounts).toContain(folder)
    const env = Object.fromEntries(pod.containers[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]))
    expect(mounts).toContain(path.dirname(env["MCP_CONFIG"]))
    expect(image.volumes).toContain(env["MCP_DATA_DIR"])
    expect(image.volumes).toContain(env["MCP_WORKING_DIR"])
    expect(Number(env["MCP_PORT"])).toBe(image.port)
    const data = pod.volumes.find((v: any) => v.name === pod.containers[0].volumeMounts.find((m: any) => m.mountPath === env["MCP_DATA_DIR"]).name)
    expect(data.persistentVolumeClaim.claimName).toBe(find("PersistentVolumeClaim").metadata.name)
  })

  it("configure the router with a file its Schema accepts, on the same port and folders", () => {
    const text = find("ConfigMap").data["mcp-router.json"]
    const config = Schema.decodeUnknownSync(RouterConfig, { onExcessProperty: "error" })(JSON.parse(text))
    expect(config.server.port).toBe(image.port)
    expect(config.storage.dataDir).toBe(image.env["MCP_DATA_DIR"])
    expect(config.tools.workingDir).toBe(image.env["MCP_WORKING_DIR"])
    expect(config.security.requireApiKey).toBe(true)
  })

  it("take MCP_ADMIN_KEY from the Secret kustomize makes of admin-key.env (not committed), and run this version's image", () => {
    const container = find("Deployment").spec.template.spec.containers[0]
    const key = container.env.find((e: any) => e.name === "MCP_ADMIN_KEY")
    const secret = find("Secret")
    expect(key.valueFrom.secretKeyRef.name).toBe(secret.metadata.name)
    expect(Object.keys(secret.data)).toContain(key.valueFrom.secretKeyRef.key)
    expect(fs.readFileSync(path.join(root, ".gitignore"), "utf8")).toContain("deploy/k8s/admin-key.env")
    if (renderedBy === "kubectl kustomize") expect(container.image).toBe(`mcp-router-pro:${manifest.version}`)
  })
})

describe("docker-compose.yml", () => {
  const compose = parse(read("docker-compose.yml"))
  const router = compose.services.router

  it("builds the router from deploy/Dockerfile and runs it read-only, /tmp in memory, state in volumes, no capabilities", () => {
    expect(fs.existsSync(path.join(deploy, router.build.context, router.build.dockerfile))).toBe(true)
    expect(router.image).toBe(`mcp-router-pro:${manifest.version}`)
    expect(router.read_only).toBe(true)
    expect(router.tmpfs.some((t: string) => t.startsWith("/tmp"))).toBe(true)
    expect(router.cap_drop).toEqual(["ALL"])
    const targets = router.volumes.map((v: string) => v.split(":")[1])
    for (const folder of image.volumes) expect(targets).toContain(folder)
    expect(router.ports).toContain(`${image.port}:${image.port}`)
  })

  it("gives the router and Prometheus the same admin key secret, the one Prometheus scrapes with", () => {
    const prometheus = parse(read("prometheus/prometheus.yml"))
    const job = prometheus.scrape_configs.find((c: any) => c.job_name === "mcp-router")
    expect(job.metrics_path).toBe("/metrics/prometheus")
    expect(job.static_configs[0].targets).toEqual([`router:${image.port}`])
    const secretPath = job.authorization.credentials_file
    expect(secretPath).toMatch(/^\/run\/secrets\//)
    const secret = path.basename(secretPath)
    expect(router.environment.MCP_ADMIN_KEY_FILE).toBe(secretPath)
    expect(router.secrets).toContain(secret)
    expect(compose.services.prometheus.secrets).toContain(secret)
    expect(compose.secrets[secret].file).toBeDefined()
  })

  it("mounts the Prometheus and Grafana files that exist here, where their configurations expect them", () => {
    const mount = (service: string, target: string) => {
      const found = compose.services[service].volumes.find((v: string) => v.split(":")[1] === target)
      expect(found, `${service} mounts ${target}`).toBeDefined()
      const source = found.split(":")[0]
      expect(fs.existsSync(path.join(deploy, source)), `${source} exists`).toBe(true)
      return path.join(deploy, source)
    }
    const prometheusDir = mount("prometheus", "/etc/prometheus")
    expect(fs.existsSync(path.join(prometheusDir, "prometheus.yml"))).toBe(true)
    expect(compose.services.prometheus.command).toContain("--config.file=/etc/prometheus/prometheus.yml")
    const provisioning = mount("grafana", "/etc/grafana/provisioning")
    const provider = parse(fs.readFileSync(path.join(provisioning, "dashboards/mcp-router.yml"), "utf8")).providers[0]
    const dashboards = mount("grafana", provider.options.path)
    expect(fs.existsSync(path.join(dashboards, "mcp-router.json"))).toBe(true)
    const datasource = parse(fs.readFileSync(path.join(provisioning, "datasources/prometheus.yml"), "utf8")).datasources[0]
    expect(datasource.url).toBe("http://prometheus:9090")
    const dashboard = JSON.parse(fs.readFileSync(path.join(dashboards, "mcp-router.json"), "utf8"))
    const variable = dashboard.templating.list.find((v: any) => v.type === "datasource")
    expect(variable.current.value).toBe(datasource.uid)
  })

  it("has the redis and postgres profiles for the scale-out, off by default", () => {
    expect(compose.services.redis.profiles).toEqual(["redis"])
    expect(compose.services.postgres.profiles).toEqual(["postgres"])
    for (const name of ["router", "prometheus", "grafana"]) expect(compose.services[name].profiles).toBeUndefined()
    // the router's storage URL, documented beside it, names the postgres service, its user and database
    expect(router.environment.MCP_STORAGE_URL).toBe("${MCP_STORAGE_URL:-}")
    const [, user, host, database] = /postgres:\/\/(\w+):\w+@(\w+):5432\/(\w+)/.exec(read("docker-compose.yml"))!
    expect(host).toBe("postgres")
    expect(user).toBe(compose.services.postgres.environment.POSTGRES_USER)
    expect(database).toBe(compose.services.postgres.environment.POSTGRES_DB)
  })
})
