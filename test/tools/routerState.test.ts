/**
 * The tool sandbox never contains the router: whatever tools.workingDir is, no tool reads, writes, lists,
 * searches or runs a program on the data dir, the configuration file, the log dir or the install folder.
 * Each tool is tried with the whole attack class against each of them, on real files: direct path, `..`
 * routes, absolute paths, repeated and trailing separators, symbolic links at the file and at a parent,
 * dangling links, hard links, case variations.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { atOrInside, RouterInstallFolder, Sandbox } from "../../src/tools/Sandbox.ts"
import { callTool, link, put, structured, textOf } from "./fixtures.ts"
import {
  failing,
  folderNames,
  refused,
  removeLayout,
  snapshot,
  stateConfig,
  stateInside,
  stateLayer,
  stateMarker,
  stateOutside,
  type StateLayout,
  tempDir
} from "./routerState.support.ts"

const layouts: Array<StateLayout> = []
const extraFolders: Array<string> = []
afterEach(() => {
  for (const layout of layouts.splice(0)) removeLayout(layout)
  for (const folder of extraFolders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

const inside = () => {
  const layout = stateInside()
  layouts.push(layout)
  return layout
}
const outside = () => {
  const layout = stateOutside()
  layouts.push(layout)
  return layout
}

interface Target {
  readonly label: string
  /** The protected file, relative to the working folder. */
  readonly file: string
  /** The protected folder holding it, when the folder itself is protected. */
  readonly dir?: string
  /** How refusals name it. */
  readonly what: string
}

const targets: ReadonlyArray<Target> = [
  { label: "database", file: "data/mcp-router.db", dir: "data", what: "the router's data dir (storage.dataDir)" },
  { label: "journal", file: "data/mcp-router.db-wal", dir: "data", what: "the router's data dir (storage.dataDir)" },
  { label: "config", file: "config/mcp-router.json", what: "the router's configuration file" },
  { label: "log", file: "logs/mcp-router.log", dir: "logs", what: "the router's log dir (logging.logDir)" },
  { label: "install", file: "router/package.json", dir: "router", what: "the router's install folder" }
]

/** Symbolic and hard links in the working folder leading to the target, made for real. */
const makeLinks = (layout: StateLayout, t: Target) => {
  const parent = path.dirname(t.file)
  link(layout.root, `links/${t.label}-file-abs`, path.join(layout.root, t.file))
  link(layout.root, `links/${t.label}-file-rel`, path.join("..", t.file))
  link(layout.root, `links/${t.label}-parent-abs`, path.join(layout.root, parent))
  link(layout.root, `links/${t.label}-parent-rel`, path.join("..", parent))
  link(layout.root, `links/${t.label}-dangling`, path.join(layout.root, parent, "missing.txt"))
  fs.linkSync(path.join(layout.root, t.file), path.join(layout.root, `hl-${t.label}`))
}

/** Every spelling of the target file (relative to the working folder), with what its refusal must say. */
const fileVariants = (layout: StateLayout, t: Target): ReadonlyArray<readonly [string, string]> => {
  const base = path.basename(t.file)
  const parent = path.dirname(t.file)
  return [
    [t.file, t.what],
    [`./${t.file}`, t.what],
    [`sub/../${t.file}`, t.what],
    [`./x/../${t.file}`, t.what],
    [`${parent}//${base}`, t.what],
    [`${parent}/./${base}`, t.what],
    [`${t.file}/`, t.what],
    [path.join(layout.root, t.file), t.what],
    [`links/${t.label}-file-abs`, t.what],
    [`links/${t.label}-file-rel`, t.what],
    [`links/${t.label}-parent-abs/${base}`, t.what],
    [`links/${t.label}-parent-rel/${base}`, t.what],
    [`hl-${t.label}`, "hard link"]
  ]
}

/** Every spelling of the protected folder itself. */
const dirVariants = (layout: StateLayout, dir: string, label: string): ReadonlyArray<string> => [
  dir,
  `${dir}/`,
  `${dir}//`,
  `./${dir}`,
  `sub/../${dir}`,
  `./x/../${dir}`,
  path.join(layout.root, dir),
  `${path.join(layout.root, dir)}/`,
  `links/${label}-parent-abs`,
  `links/${label}-parent-abs/`,
  `links/${label}-parent-rel`
]

/** A fresh layout with every link made, the layer on it, and a snapshot of the protected files. */
const withInside = <A, E>(body: (layout: StateLayout) => Effect.Effect<A, E, any>, tools: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const layout = inside()
    for (const t of targets) makeLinks(layout, t)
    const before = snapshot(layout)
    const names = folderNames(layout)
    const result = yield* (body(layout) as Effect.Effect<A, E, never>).pipe(Effect.provide(stateLayer(layout, tools)))
    assert.deepStrictEqual(snapshot(layout), before, "a protected file changed")
    assert.deepStrictEqual(folderNames(layout), names, "something was created in a protected folder")
    return result
  })

const caseSensitive = (layout: StateLayout) => !fs.existsSync(path.join(layout.root, "DATA"))

describe("read_file never reads the router's state", () => {
  for (const t of targets) {
    it.effect(`the ${t.label}: every spelling, link and hard link is refused`, () =>
      withInside((layout) =>
        Effect.gen(function*() {
          for (const [variant, what] of fileVariants(layout, t)) yield* refused("read_file", { path: variant }, variant, what)
          for (const variant of fileVariants(layout, t)) yield* refused("read_file", { path: variant[0], encoding: "base64" }, variant[0])
          yield* refused("read_file", { path: `links/${t.label}-dangling` }, `links/${t.label}-dangling`, "symbolic link whose target does not exist")
          if (t.dir !== undefined) for (const variant of dirVariants(layout, t.dir, t.label)) yield* refused("read_file", { path: variant }, variant, t.what)
        })
      ))
  }

  it.effect("case variations never reach the state: refused where the file system folds case, missing elsewhere", () =>
    withInside((layout) =>
      Effect.gen(function*() {
        for (const variant of ["DATA/mcp-router.db", "Data/MCP-ROUTER.DB", "LOGS/mcp-router.log", "ROUTER/package.json", "config/MCP-ROUTER.JSON"]) {
          const text = yield* failing("read_file", { path: variant })
          assert.include(text, caseSensitive(layout) ? "does not exist" : "refused")
        }
      })))

  it.effect("ordinary files beside the state are read as before", () =>
    withInside(() =>
      Effect.gen(function*() {
        assert.strictEqual(textOf(yield* callTool("read_file", { path: "notes.txt" })), "plain notes\n")
        assert.strictEqual(textOf(yield* callTool("read_file", { path: "config/other.json" })), "{}\n")
      })))
})

describe("write_file never writes the router's state", () => {
  for (const t of targets) {
    it.effect(`the ${t.label}: overwrite, append and create through every spelling are refused`, () =>
      withInside((layout) =>
        Effect.gen(function*() {
          for (const [variant, what] of fileVariants(layout, t)) {
            for (const mode of ["overwrite", "append", "create"]) {
              yield* refused("write_file", { path: variant, content: "pwned", mode }, variant, what)
            }
          }
          yield* refused("write_file", { path: `links/${t.label}-dangling`, content: "pwned" }, `links/${t.label}-dangling`, "symbolic link")
        })
      ))
  }

  for (const dir of ["data", "logs", "router"]) {
    it.effect(`a new file in ${dir}/ (directly, through a linked parent, in a new sub-folder) is refused`, () =>
      withInside((layout) =>
        Effect.gen(function*() {
          const label = targets.find((t) => t.dir === dir)!.label
          for (const variant of [`${dir}/new.txt`, `./x/../${dir}/new.txt`, `links/${label}-parent-abs/new.txt`, `links/${label}-parent-rel/new.txt`, path.join(layout.root, dir, "new.txt")]) {
            yield* refused("write_file", { path: variant, content: "pwned", mode: "create" }, variant, "refused")
          }
          yield* refused("write_file", { path: `${dir}/deeper/new.txt`, content: "pwned", createDirs: true }, `${dir}/deeper/new.txt`)
          assert.isFalse(fs.existsSync(path.join(layout.root, dir, "deeper")))
        })
      ))
  }

  it.effect("case variations never write the state", () =>
    withInside(() =>
      Effect.gen(function*() {
        for (const variant of ["DATA/mcp-router.db", "Logs/mcp-router.log", "config/MCP-ROUTER.JSON"]) {
          // a case-sensitive file system makes a new, unrelated file; the snapshot check proves the state is untouched
          yield* callTool("write_file", { path: variant, content: "pwned", createDirs: true })
        }
      })))
})

/** Whether a listed or found relative path is (in) the router's state or a hard link to it. */
const isState = (relative: string) =>
  ["data", "logs", "router"].some((dir) => relative === dir || relative.startsWith(`${dir}/`)) ||
  relative === "config/mcp-router.json" || relative.startsWith("hl-")

describe("list_directory leaves the router's state out", () => {
  it.effect("a listing of a folder that holds the state omits it, recursively, hidden files included", () =>
    withInside(() =>
      Effect.gen(function*() {
        const output = yield* callTool("list_directory", { path: ".", recursive: true, maxDepth: 10, includeHidden: true })
        const paths = (structured(output)["entries"] as Array<{ path: string }>).map((e) => e.path)
        assert.deepStrictEqual(paths.filter(isState), [])
        assert.notInclude(textOf(output), stateMarker)
        for (const expected of ["notes.txt", "sub", "sub/readme.txt", "config", "config/other.json", "links"]) assert.include(paths, expected)
        // symbolic links are listed as links, never followed
        const links = paths.filter((p) => p.startsWith("links/"))
        assert.isAbove(links.length, 0)
        assert.deepStrictEqual(paths.filter((p) => p.startsWith("links/") && p.split("/").length > 2), [])
        assert.strictEqual(structured(output)["count"], paths.length)
      })))

  it.effect("listing config/ shows the other files but not the configuration file", () =>
    withInside(() =>
      Effect.gen(function*() {
        const output = yield* callTool("list_directory", { path: "config" })
        assert.deepStrictEqual((structured(output)["entries"] as Array<{ path: string }>).map((e) => e.path), ["config/other.json"])
      })))

  for (const t of targets.filter((t) => t.dir !== undefined && t.label !== "journal")) {
    it.effect(`listing the ${t.label} folder by any spelling is refused`, () =>
      withInside((layout) =>
        Effect.gen(function*() {
          for (const variant of dirVariants(layout, t.dir!, t.label)) yield* refused("list_directory", { path: variant }, variant, t.what)
          for (const variant of dirVariants(layout, t.dir!, t.label)) yield* refused("list_directory", { path: variant, recursive: true }, variant)
        })
      ))
  }
})

describe("search_files never searches the router's state", () => {
  it.effect("by name and by content from a folder that holds it: nothing of the state, no hard link to it", () =>
    withInside(() =>
      Effect.gen(function*() {
        const byName = yield* callTool("search_files", { path: ".", pattern: "**", includeHidden: true })
        const names = (structured(byName)["matches"] as Array<{ path: string }>).map((m) => m.path)
        assert.deepStrictEqual(names.filter((p) => isState(p) && !p.startsWith("hl-")), [])
        assert.include(names, "notes.txt")
        for (const pattern of ["*.db", "*.db-wal", "mcp-router.*", "package.json", "*.log"]) {
          const output = yield* callTool("search_files", { path: ".", pattern, includeHidden: true })
          const found = (structured(output)["matches"] as Array<{ path: string }>).map((m) => m.path)
          assert.deepStrictEqual(found.filter((p) => !p.startsWith("hl-")), [], pattern)
        }
        const byContent = yield* callTool("search_files", { path: ".", contentRegex: stateMarker, includeHidden: true })
        assert.deepStrictEqual(structured(byContent)["matches"], [])
        assert.notInclude(textOf(byContent), stateMarker)
        // hard links are skipped silently, not counted as unreadable files
        assert.strictEqual(structured(byContent)["skippedFiles"], 0)
        const plain = yield* callTool("search_files", { path: ".", contentRegex: "plain", includeHidden: true })
        assert.deepStrictEqual((structured(plain)["matches"] as Array<{ path: string }>).map((m) => m.path), ["notes.txt", "sub/readme.txt"])
      })))

  for (const t of targets.filter((t) => t.dir !== undefined && t.label !== "journal")) {
    it.effect(`searching in the ${t.label} folder by any spelling is refused`, () =>
      withInside((layout) =>
        Effect.gen(function*() {
          for (const variant of dirVariants(layout, t.dir!, t.label)) yield* refused("search_files", { path: variant, contentRegex: "." }, variant, t.what)
        })
      ))
  }
})

describe("execute_command never runs a program on the router's state", () => {
  it.effect("a working folder that holds the state cannot be a program's folder, by any spelling", () =>
    withInside((layout) =>
      Effect.gen(function*() {
        yield* refused("execute_command", { command: "ls" }, ".", "it contains the router's data dir (storage.dataDir)")
        yield* refused("execute_command", { command: "grep", args: ["-r", stateMarker] }, ".", "contains")
        for (const cwd of [".", "./", "sub/..", layout.root, `${layout.root}/`]) {
          yield* refused("execute_command", { command: "grep", args: ["-r", stateMarker], cwd }, cwd, "contains")
        }
      })))

  it.effect("an operand that holds the state is refused, from a harmless folder", () =>
    withInside((layout) =>
      Effect.gen(function*() {
        for (const operand of ["..", "../", "../sub/..", layout.root]) {
          yield* refused("execute_command", { command: "grep", args: ["-r", stateMarker, operand], cwd: "sub" }, operand, "contains")
          yield* refused("execute_command", { command: "find", args: [operand, "-name", "*.db"], cwd: "sub" }, operand, "contains")
        }
      })))

  for (const t of targets) {
    it.effect(`the ${t.label}: as an operand, an option value and a folder, by every spelling`, () =>
      withInside((layout) =>
        Effect.gen(function*() {
          for (const [variant, what] of fileVariants(layout, t)) {
            const operand = path.isAbsolute(variant) ? variant : `../${variant}`
            yield* refused("execute_command", { command: "cat", args: [operand], cwd: "sub" }, operand, what)
            yield* refused("execute_command", { command: "cat", args: ["--", operand], cwd: "sub" }, operand, what)
            yield* refused("execute_command", { command: "head", args: ["-c", "100", operand], cwd: "sub" }, operand, what)
            yield* refused("execute_command", { command: "grep", args: ["--file=" + operand, "x", "readme.txt"], cwd: "sub" }, operand, what)
            // a value attached to a short option, alone or in a group
            yield* refused("execute_command", { command: "grep", args: [`-f${operand}`, "readme.txt"], cwd: "sub" }, operand, what)
            yield* refused("execute_command", { command: "grep", args: [`-if${operand}`, "readme.txt"], cwd: "sub" }, operand, what)
          }
          if (t.dir !== undefined) {
            for (const variant of dirVariants(layout, t.dir, t.label)) {
              yield* refused("execute_command", { command: "ls", cwd: variant }, variant, t.what)
              const operand = path.isAbsolute(variant) ? variant : `../${variant}`
              yield* refused("execute_command", { command: "ls", args: [operand], cwd: "sub" }, operand, t.what)
            }
          }
        })
      ))
  }

  it.effect("git -C into the state is refused", () =>
    withInside(() =>
      Effect.gen(function*() {
        yield* refused("execute_command", { command: "git", args: ["-C", "../data", "status"], cwd: "sub" }, "../data", "data dir")
        yield* refused("execute_command", { command: "git", args: ["--git-dir=../router", "status"], cwd: "sub" }, "../router", "install folder")
      })))

  it.live("programs still run in a folder beside the state", () =>
    withInside(() =>
      Effect.gen(function*() {
        const output = yield* callTool("execute_command", { command: "cat", args: ["readme.txt"], cwd: "sub" })
        assert.isFalse(output.isError, textOf(output))
        assert.include(textOf(output), "plain readme")
      })))
})

describe("git_status never looks inside the router's state", () => {
  for (const t of targets.filter((t) => t.dir !== undefined && t.label !== "journal")) {
    it.effect(`the ${t.label} folder, by any spelling, is refused`, () =>
      withInside((layout) =>
        Effect.gen(function*() {
          for (const variant of dirVariants(layout, t.dir!, t.label)) yield* refused("git_status", { path: variant }, variant, t.what)
        })
      ))
  }
})

describe("a dedicated working folder: the state elsewhere is reached by no link", () => {
  const links = (layout: StateLayout) => {
    for (const [name, target] of [["db", layout.database], ["journal", layout.journal], ["config", layout.configFile], ["log", layout.logFile], ["install", layout.installFile]] as const) {
      fs.linkSync(target, path.join(layout.root, `hl-${name}`))
      link(layout.root, `sl-${name}`, target)
    }
    for (const [name, target] of [["data", layout.dataDir], ["logs", layout.logDir], ["router", layout.installFolder]] as const) link(layout.root, `dir-${name}`, target)
  }

  const run = <A, E>(layout: StateLayout, effect: Effect.Effect<A, E, any>) =>
    (effect as Effect.Effect<A, E, never>).pipe(Effect.provide(stateLayer(layout)))

  it.effect("hard links to the database, its journal, the config, the log and an install file are refused by every tool", () =>
    Effect.gen(function*() {
      const layout = outside()
      links(layout)
      const before = snapshot(layout)
      yield* run(layout, Effect.gen(function*() {
        for (const [name, what] of [["db", "data dir"], ["journal", "data dir"], ["config", "configuration file"], ["log", "log dir"], ["install", "install folder"]] as const) {
          const file = `hl-${name}`
          yield* refused("read_file", { path: file }, file, "hard link", what)
          yield* refused("read_file", { path: `./x/../${file}` }, `./x/../${file}`, "hard link")
          yield* refused("read_file", { path: path.join(layout.root, file) }, path.join(layout.root, file), "hard link")
          for (const mode of ["overwrite", "append", "create"]) yield* refused("write_file", { path: file, content: "pwned", mode }, file, "hard link")
          yield* refused("execute_command", { command: "cat", args: [file] }, file, "hard link")
          yield* refused("execute_command", { command: "grep", args: [`-f${file}`, "notes.txt"] }, file, "hard link")
        }
        const listing = yield* callTool("list_directory", {})
        const listed = (structured(listing)["entries"] as Array<{ path: string }>).map((e) => e.path)
        assert.deepStrictEqual(listed.filter((p) => p.startsWith("hl-")), [])
        assert.include(listed, "notes.txt")
        const found = yield* callTool("search_files", { contentRegex: stateMarker })
        assert.deepStrictEqual(structured(found)["matches"], [])
        assert.strictEqual(structured(found)["skippedFiles"], 0)
      }))
      assert.deepStrictEqual(snapshot(layout), before)
    }))

  it.effect("symbolic links to the state, at the file and at a parent, are refused as outside", () =>
    Effect.gen(function*() {
      const layout = outside()
      links(layout)
      yield* run(layout, Effect.gen(function*() {
        for (const name of ["db", "journal", "config", "log", "install"]) {
          yield* refused("read_file", { path: `sl-${name}` }, `sl-${name}`, "outside the working directory")
          yield* refused("write_file", { path: `sl-${name}`, content: "pwned" }, `sl-${name}`, "outside the working directory")
        }
        for (const name of ["data", "logs", "router"]) {
          yield* refused("read_file", { path: `dir-${name}/x` }, `dir-${name}/x`, "outside the working directory")
          yield* refused("list_directory", { path: `dir-${name}` }, `dir-${name}`, "outside the working directory")
          yield* refused("search_files", { path: `dir-${name}/` }, `dir-${name}/`, "outside the working directory")
          yield* refused("execute_command", { command: "ls", cwd: `dir-${name}` }, `dir-${name}`, "outside the working directory")
          yield* refused("git_status", { path: `dir-${name}` }, `dir-${name}`, "outside the working directory")
        }
      }))
    }))

  it.effect("a hard link to a file the router made after the first call (a new journal) is refused too", () =>
    Effect.gen(function*() {
      const layout = outside()
      yield* run(layout, Effect.gen(function*() {
        // a first call with a hard link builds the index of the router's files
        fs.linkSync(layout.database, path.join(layout.root, "early"))
        yield* refused("read_file", { path: "early" }, "early", "hard link")
        const late = put(layout.dataDir, "mcp-router.db-shm", `${stateMarker} shared memory`)
        fs.linkSync(late, path.join(layout.root, "late"))
        yield* refused("read_file", { path: "late" }, "late", "hard link", "mcp-router.db-shm")
        // a rotated log file is a new file in the log dir
        fs.renameSync(layout.logFile, `${layout.logFile}.1`)
        fs.linkSync(`${layout.logFile}.1`, path.join(layout.root, "rotated"))
        yield* refused("read_file", { path: "rotated" }, "rotated", "hard link", "log dir")
        // an ordinary file with two names of its own stays readable
        const own = put(layout.root, "own.txt", "mine")
        fs.linkSync(own, path.join(layout.root, "own-too.txt"))
        assert.strictEqual(textOf(yield* callTool("read_file", { path: "own-too.txt" })), "mine")
      }))
    }))

  it.effect("ordinary files read and write as before", () =>
    Effect.gen(function*() {
      const layout = outside()
      yield* run(layout, Effect.gen(function*() {
        assert.strictEqual(textOf(yield* callTool("read_file", { path: "notes.txt" })), "plain notes\n")
        const written = yield* callTool("write_file", { path: "out/new.txt", content: "ok", createDirs: true })
        assert.isUndefined(written.isError, textOf(written))
        const ls = yield* callTool("execute_command", { command: "ls" })
        assert.isFalse(ls.isError, textOf(ls))
      }))
    }))
})

describe("where the state is", () => {
  it.effect("a working folder inside the install folder (the shipped \"workspace\") is usable and not warned about", () =>
    Effect.gen(function*() {
      const install = tempDir("mcp-state-install-")
      extraFolders.push(install)
      put(install, "package.json", `{ "x": "${stateMarker}" }`)
      const root = path.join(install, "workspace")
      put(root, "notes.txt", "plain notes\n")
      const warnings: Array<string> = []
      const capture = Logger.layer([Logger.make(({ message }) => void warnings.push(String(message)))])
      const layer = stateLayer({ ...outside(), root, installFolder: install })
      yield* Effect.gen(function*() {
        assert.strictEqual(textOf(yield* callTool("read_file", { path: "notes.txt" })), "plain notes\n")
        yield* refused("read_file", { path: "../package.json" }, "../package.json", "outside the working directory")
      }).pipe(Effect.provide(Layer.merge(layer, capture)))
      assert.deepStrictEqual(warnings.filter((w) => w.includes("tools.workingDir")), [])
    }))

  it.effect("a working folder that is the data dir refuses everything in it, the folder itself included", () =>
    Effect.gen(function*() {
      const layout = outside()
      const same = { ...layout, root: layout.dataDir }
      yield* Effect.gen(function*() {
        yield* refused("read_file", { path: "mcp-router.db" }, "mcp-router.db", "data dir")
        yield* refused("list_directory", { path: "." }, ".", "it is the router's data dir (storage.dataDir)")
        yield* refused("write_file", { path: "new.txt", content: "x" }, "new.txt", "data dir")
      }).pipe(Effect.provide(stateLayer(same)))
    }))

  it.effect("the install folder is found from the router's own modules: the folder holding package.json above src/", () =>
    Effect.gen(function*() {
      const expected = path.resolve(fileURLToPath(new URL("../../", import.meta.url)))
      assert.strictEqual(yield* RouterInstallFolder, expected)
      assert.isTrue(fs.existsSync(path.join(expected, "package.json")))
      assert.isTrue(fs.existsSync(path.join(expected, "src", "tools", "Sandbox.ts")))
    }))

  it("case-folded comparison, for file systems that ignore case", () => {
    assert.isTrue(atOrInside("/w/Data", "/w/data/mcp-router.db", true))
    assert.isTrue(atOrInside("/w/data", "/w/DATA", true))
    assert.isFalse(atOrInside("/w/data", "/w/DATA/x", false))
    assert.isFalse(atOrInside("/w/data", "/w/database", true))
    assert.isFalse(atOrInside("/w/config.json", "/w/config.json/x", true, false))
  })
})

describe("start-up warning", () => {
  const warningsOf = (layout: StateLayout, input = stateConfig(layout)) =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.layer([Logger.make(({ logLevel, message }) => void warnings.push(`${logLevel}: ${String(message)}`))])
      yield* Sandbox.use(() => Effect.void).pipe(
        Effect.provide(Sandbox.layer.pipe(
          Layer.provide(AppConfig.layerFromInput(input, layout.root, { files: [layout.configFile] })),
          Layer.provide(Layer.succeed(RouterInstallFolder, layout.installFolder))
        )),
        Effect.provide(capture)
      )
      return warnings
    })

  it.effect("a working folder that holds the data dir, config, logs and install folder is named in one warning", () =>
    Effect.gen(function*() {
      const layout = inside()
      const warnings = yield* warningsOf(layout)
      assert.strictEqual(warnings.length, 1, warnings.join("\n"))
      const warning = warnings[0]!
      assert.match(warning, /^Warn: tools\.workingDir /)
      for (const part of [layout.root, `the router's data dir (storage.dataDir) ${layout.dataDir}`, `the router's configuration file ${layout.configFile}`, `the router's log dir (logging.logDir) ${layout.logDir}`, `the router's install folder ${layout.installFolder}`]) {
        assert.include(warning, part)
      }
    }))

  it.effect("only what is inside is named: the data dir alone", () =>
    Effect.gen(function*() {
      const layout = outside()
      const dataInside = path.join(layout.root, "state")
      const warnings = yield* warningsOf(layout, { ...stateConfig(layout), storage: { dataDir: dataInside } })
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0]!, `the router's data dir (storage.dataDir) ${dataInside}`)
      assert.notInclude(warnings[0]!, "log dir")
      assert.notInclude(warnings[0]!, "configuration file")
    }))

  it.effect("a dedicated working folder is not warned about", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* warningsOf(outside()), [])
    }))
})
