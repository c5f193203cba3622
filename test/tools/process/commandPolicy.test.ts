/** planCommand: the allowlist of execute_command and the argument rules that keep it from running other programs. */
import { assert, describe, it } from "vitest"
import { type CommandSettings, planCommand } from "../../../src/tools/process/commandPolicy.ts"

const defaults: CommandSettings = {
  allowedCommands: ["ls", "cat", "head", "tail", "grep", "find", "git", "docker", "curl", "ping"],
  allowedDockerSubcommands: ["ps", "images", "inspect", "logs", "version", "info"]
}

const plan = (command: string, args: ReadonlyArray<string> = [], settings: CommandSettings = defaults) =>
  planCommand(command, args, settings)

/** Expects a refusal equal to `message` and no paths. */
const refused = (command: string, args: ReadonlyArray<string>, message: string, settings: CommandSettings = defaults) => {
  const result = plan(command, args, settings)
  assert.strictEqual(result.refusal, message, `${command} ${JSON.stringify(args)}`)
  assert.deepStrictEqual(result.paths, [])
}

/** Expects a refusal that starts with `start`. */
const refusedStarting = (command: string, args: ReadonlyArray<string>, start: string) => {
  const result = plan(command, args, defaults)
  assert.isTrue(result.refusal?.startsWith(start), `${command} ${JSON.stringify(args)}: ${result.refusal}`)
}

/** Expects no refusal and exactly `paths`. */
const allowed = (command: string, args: ReadonlyArray<string>, paths: ReadonlyArray<string> = [], settings: CommandSettings = defaults) => {
  const result = plan(command, args, settings)
  assert.isUndefined(result.refusal, `${command} ${JSON.stringify(args)} was refused: ${result.refusal}`)
  assert.deepStrictEqual(result.paths, paths, `${command} ${JSON.stringify(args)}`)
}

describe("program names", () => {
  it("allowlisted programs pass, others are refused with the list and the setting's name", () => {
    allowed("ls", ["-la"])
    allowed("grep", ["-rn", "needle", "."])
    refused(
      "rm",
      ["-rf", "x"],
      "\"rm\" is not allowed; allowed programs are ls, cat, head, tail, grep, find, git, docker, curl, ping (tools.allowedCommands)"
    )
    refused("node", [], "\"node\" is not allowed; allowed programs are ls, cat (tools.allowedCommands)", {
      ...defaults,
      allowedCommands: ["ls", "cat"]
    })
    allowed("node", ["-v"], [], { ...defaults, allowedCommands: ["node"] })
    // exact names only: no prefix or case folding
    refused("LS", [], "\"LS\" is not allowed; allowed programs are ls, cat (tools.allowedCommands)", {
      ...defaults,
      allowedCommands: ["ls", "cat"]
    })
  })

  it("a path or shell syntax as the command is not a program name", () => {
    for (const command of ["/bin/ls", "./ls", "bin/ls", "ls;rm", "$(id)", "ls rm", "`id`", "ls|cat", "ls&", "a>b", "*"]) {
      refused(command, [], `"${command}" is not a program name; give the name alone (no path, no shell syntax)`)
    }
  })

  it("control characters in the command name are refused before anything else", () => {
    for (const command of ["ls\n", "ls\0", "l\rs", "ls\x7f", "\tls", "ls\x1b"]) {
      refused(command, [], "the command name contains a control character")
    }
  })

  it("control characters in an argument are refused with the argument's number", () => {
    refused("ls", ["a\nb"], "argument 1 contains a control character (newline, NUL, ...)")
    refused("ls", ["ok", "-l", "x\0y"], "argument 3 contains a control character (newline, NUL, ...)")
    refused("cat", ["fine", "\r"], "argument 2 contains a control character (newline, NUL, ...)")
    refused("grep", ["del\x7f"], "argument 1 contains a control character (newline, NUL, ...)")
    // checked even for programs that are not allowed, so the message does not leak the list first
    refused("rm", ["\n"], "argument 1 contains a control character (newline, NUL, ...)")
    allowed("grep", ["unicode ✓ é", "ε"])
  })
})

describe("find", () => {
  it("actions that run programs or write files are refused", () => {
    for (const action of ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"]) {
      refused("find", [".", "-name", "*.ts", action, "x"], `find ${action} is refused: it runs programs or writes files`)
    }
  })

  it("plain searches pass", () => {
    allowed("find", [".", "-name", "*.ts", "-type", "f", "-print"])
    allowed("find", ["src", "-maxdepth", "2", "-newer", "package.json"])
    allowed("find", ["/etc", "-name", "passwd"], ["/etc"])
  })
})

describe("git", () => {
  it("-c in every spelling is refused", () => {
    refused("git", ["-c", "core.pager=id", "log"], "git -c is refused: -c can make git run any program")
    refused("git", ["-ccore.x=y", "status"], "git -ccore.x=y is refused: -c can make git run any program")
    refused("git", ["log", "-c"], "git -c is refused: -c can make git run any program")
  })

  it("options naming a program for git to run are refused", () => {
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [["--exec-path", "/x", "status"], "--exec-path"],
      [["--exec-path=/x", "status"], "--exec-path=/x"],
      [["fetch", "--upload-pack", "id", "origin"], "--upload-pack"],
      [["fetch", "--upload-pack=id", "origin"], "--upload-pack=id"],
      [["push", "--receive-pack=id", "origin"], "--receive-pack=id"],
      [["--config-env=core.pager=X", "log"], "--config-env=core.pager=X"],
      [["archive", "--exec=id", "--remote=x", "HEAD"], "--exec=id"],
      [["archive", "--exec", "id", "HEAD"], "--exec"],
      [["rebase", "--exec", "id", "HEAD~1"], "--exec"],
      [["difftool", "--extcmd=id"], "--extcmd=id"]
    ]
    for (const [args, option] of cases) refused("git", args, `git ${option} is refused: it names a program for git to run`)
  })

  it("subcommands that run programs or edit configuration are refused, after global options too", () => {
    const message = (sub: string) => `git ${sub} is refused: allowed git subcommands are status, log, show`
    refusedStarting("git", ["config", "core.pager", "id"], message("config"))
    refusedStarting("git", ["-C", "repo", "config", "--list"], message("config"))
    refusedStarting("git", ["--git-dir", "repo/.git", "--work-tree", "repo", "config", "-l"], message("config"))
    refusedStarting("git", ["--no-pager", "config", "-l"], message("config"))
    // aliases are never builtins, so an alias that would run a program never runs
    for (const sub of ["filter-branch", "submodule", "bisect", "daemon", "instaweb", "credential", "send-email", "st", "hist"]) {
      refusedStarting("git", [sub, "x"], message(sub))
    }
  })

  it("rebase -x and clone/archive -u are refused", () => {
    refused("git", ["rebase", "-x", "id", "HEAD~2"], "git rebase -x is refused: it names a program for git to run")
    refused("git", ["clone", "-u", "id", "https://h/r.git"], "git clone -u is refused: it names a program for git to run")
    refused("git", ["archive", "-u", "id", "HEAD"], "git archive -u is refused: it names a program for git to run")
    // -x means something harmless elsewhere
    allowed("git", ["log", "-x"])
  })

  it("read-only subcommands pass", () => {
    allowed("git", ["status"])
    allowed("git", ["log", "--oneline", "-n", "5"])
    allowed("git", ["diff", "--stat", "HEAD~1"])
    allowed("git", ["--no-pager", "show", "HEAD:README.md"])
  })

  it("-C, --git-dir, --work-tree and --output values are reported as paths", () => {
    allowed("git", ["-C", "sub", "status"], ["sub"])
    allowed("git", ["-C", "/elsewhere", "status"], ["/elsewhere", "/elsewhere"])
    allowed("git", ["--git-dir=/x/y", "log"], ["/x/y", "/x/y"])
    allowed("git", ["--git-dir", "r/.git", "--work-tree", "r", "status"], ["r/.git", "r"])
    allowed("git", ["--work-tree=w", "status"], ["w"])
    allowed("git", ["diff", "--output", "out.patch"], ["out.patch"])
  })
})

describe("docker", () => {
  it("the allowed subcommands pass", () => {
    for (const sub of ["ps", "images", "inspect", "logs", "version", "info"]) allowed("docker", [sub])
    allowed("docker", ["ps", "-a", "--format", "{{.ID}}"])
    allowed("docker", ["--log-level", "debug", "ps"])
    allowed("docker", [])
  })

  it("other subcommands are refused naming tools.allowedDockerSubcommands", () => {
    const list = "ps, images, inspect, logs, version, info"
    for (const sub of ["run", "rm", "exec"]) {
      refused("docker", [sub, "alpine"], `docker ${sub} is refused: allowed docker subcommands are ${list} (tools.allowedDockerSubcommands)`)
    }
  })

  it("a custom allowedDockerSubcommands is honoured", () => {
    const settings = { ...defaults, allowedDockerSubcommands: ["run", "ps"] }
    allowed("docker", ["run", "--rm", "alpine"], [], settings)
    refused("docker", ["images"], "docker images is refused: allowed docker subcommands are run, ps (tools.allowedDockerSubcommands)", settings)
  })

  it("options that change the daemon or credentials are refused", () => {
    for (const arg of ["-H", "--host", "--context", "--config", "--host=tcp://h:2375", "--config=/tmp/d"]) {
      refused("docker", [arg, "x", "ps"], `docker ${arg} is refused: it changes which daemon or credentials docker uses`)
    }
  })
})

describe("curl", () => {
  it("-K and --config are refused: they read options from a file", () => {
    for (const arg of ["-K", "--config", "--config=opts.txt"]) {
      refused("curl", [arg, "opts.txt", "https://example.com"], `curl ${arg} is refused: it reads options from a file`)
    }
  })

  it("file: URLs are refused", () => {
    refused("curl", ["file:///etc/passwd"], "curl file: URLs are refused; use read_file")
    refused("curl", ["-s", "FILE:///etc/passwd"], "curl file: URLs are refused; use read_file")
  })

  it("output, upload and cookie files are reported as paths", () => {
    allowed("curl", ["-o", "out.html", "https://example.com"], ["out.html"])
    allowed("curl", ["--output", "o.txt", "https://example.com"], ["o.txt"])
    allowed("curl", ["-T", "up.bin", "https://example.com"], ["up.bin"])
    allowed("curl", ["-o", "/tmp/x", "https://example.com"], ["/tmp/x", "/tmp/x"])
    allowed("curl", ["-c", "jar.txt", "-b", "jar.txt", "https://example.com"], ["jar.txt", "jar.txt"])
    allowed("curl", ["-sS", "https://example.com/a/../b"])
  })
})

describe("generic path detection", () => {
  it("absolute, parent-relative, home and --option=value paths are reported", () => {
    allowed("cat", ["/etc/passwd"], ["/etc/passwd"])
    allowed("cat", ["../x"], ["../x"])
    allowed("cat", ["a/../../b"], ["a/../../b"])
    allowed("cat", ["~/x"], ["~/x"])
    allowed("grep", ["--file=/etc/x", "y"], ["/etc/x"])
    allowed("ls", [".."], [".."])
    allowed("ls", ["a\\..\\b"], ["a\\..\\b"])
  })

  it("URLs, plain relative names and dots inside names are not paths", () => {
    allowed("cat", ["http://h/../x"])
    allowed("cat", ["./ok"])
    allowed("cat", ["notes/a.txt", "x..y", "..hidden", "-n"])
    allowed("grep", ["--color=always", "needle"])
  })
})

/**
 * Known gaps (see the report): options whose value is attached to a short flag are not recognised, so the
 * refusal or the path check they should get is skipped.
 */
describe("attached short-option values", () => {
  it("curl -Kfile (attached) is refused like -K file", () => {
    assert.isDefined(plan("curl", ["-sKopts.txt"]).refusal)
  })

  it("curl -o/path (attached) reports the path", () => {
    assert.include(plan("curl", ["-o/tmp/x", "https://example.com"]).paths, "/tmp/x")
  })

  it("curl -d @/path (a file read) reports the path", () => {
    assert.include(plan("curl", ["--data-binary", "@/etc/passwd", "https://example.com"]).paths, "/etc/passwd")
  })

  it("git rebase -xcmd (attached) is refused like -x cmd", () => {
    assert.isDefined(plan("git", ["rebase", "-xtouch pwned", "HEAD~1"]).refusal)
  })

  it("docker -Htcp://... (attached) is refused like -H", () => {
    assert.isDefined(plan("docker", ["-Htcp://10.0.0.1:2375", "ps"]).refusal)
  })
})
