/** The README's parts about the package and deploy/: the tables render whole, and what it names exists. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { root } from "./support.ts"

const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
const section = (title: string) => {
  const start = readme.indexOf(`\n## ${title}\n`)
  expect(start, `README has a "## ${title}" section`).toBeGreaterThan(0)
  const end = readme.indexOf("\n## ", start + 1)
  return readme.slice(start, end === -1 ? undefined : end)
}

/** The rows of the Markdown table whose header starts with `header`, up to the first line that is not a row. */
const tableRows = (text: string, header: string) => {
  const lines = text.split("\n")
  const at = lines.findIndex((line) => line.startsWith(header))
  expect(at, `a table headed ${header}`).toBeGreaterThanOrEqual(0)
  const rows: Array<string> = []
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith("|")) break
    rows.push(line)
  }
  return rows
}

describe("README", () => {
  it("keeps the two set-up commands", () => {
    const blocks = [...section("Set up").matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim())
    expect(blocks).toEqual(["npm install && npm start", "npm install && npm test"])
  })

  it("has one Tools table with every built-in tool (no blank line breaks it)", () => {
    const rows = tableRows(section("Tools"), "| Tool |")
    const tools = rows.map((row) => /^\| `(\w+)`/.exec(row)?.[1])
    expect(tools).toEqual(["read_file", "list_directory", "search_files", "write_file", "execute_command", "git_status", "docker_ps", "fetch_url", "api_call", "sql_query"])
  })

  it("documents the deployment with files that exist", () => {
    const deploy = section("Deploy")
    for (const heading of ["### Container image", "### Compose", "### Kubernetes"]) expect(deploy).toContain(heading)
    expect(deploy).toContain("docker build -f deploy/Dockerfile")
    expect(deploy).toContain("docker compose -f deploy/docker-compose.yml up")
    expect(deploy).toContain("kubectl apply -k deploy/k8s")
    const named = [...deploy.matchAll(/`((?:deploy|test\/deploy)\/[\w./-]+)`/g)].map((m) => m[1]!)
    expect(named.length).toBeGreaterThan(8)
    for (const file of named) {
      if (file.endsWith("admin-key.env")) continue
      expect(fs.existsSync(path.join(root, file)), `${file} exists`).toBe(true)
    }
  })

  it("lists every panel row of the dashboard", () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(root, "deploy/grafana/dashboards/mcp-router.json"), "utf8"))
    const rows = dashboard.panels.filter((panel: { type: string }) => panel.type === "row").map((panel: { title: string }) => panel.title)
    const documented = tableRows(section("Deploy"), "| Row |").map((row) => row.split("|")[1]!.trim())
    expect(documented).toEqual(rows)
  })
})
