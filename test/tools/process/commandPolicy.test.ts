/**
 * planCommand: the allowlist of execute_command, the argument rules that keep it from running other
 * programs, and the option tables that find every argument naming a file, whatever its spelling.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { type CommandSettings, physicalPath, planCommand } from "../../../src/tools/process/commandPolicy.ts"
import { dirSpellings, readSpellings, writeSpellings } from "./optionSpellingTable.ts"

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
    allowed("grep", ["-rn", "needle", "."], ["."])
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
    allowed("grep", ["unicode ✓ é", "ε"], ["ε"])
  })
})

describe("find", () => {
  it("actions that run programs or write files are refused", () => {
    for (const action of ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"]) {
      refused("find", [".", "-name", "*.ts", action, "x"], `find ${action} is refused: it runs programs or writes files`)
    }
  })

  it("plain searches pass", () => {
    allowed("find", [".", "-name", "*.ts", "-type", "f", "-print"], ["."])
    allowed("find", ["src", "-maxdepth", "2", "-newer", "package.json"], ["src", "package.json"])
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

  it("git grep -O (a pager program) is refused in any group; the subcommands themselves are gitSafety's to allow", () => {
    refused("git", ["grep", "-nO", "x"], "git grep -nO is refused: it names a program for git to run")
    refused("git", ["grep", "-Oless", "x"], "git grep -Oless is refused: it names a program for git to run")
    // -O is an order file elsewhere: a path
    assert.include(plan("git", ["diff", "-Oorder.txt"]).paths, "order.txt")
    refused("git", ["rebase", "-ix", "id"], "git rebase -ix is refused: it names a program for git to run")
    refused("git", ["clone", "-qc", "core.fsmonitor=id", "u"], "git clone -qc is refused: it names a program for git to run")
    allowed("git", ["log", "-x"])
  })

  it("read-only subcommands pass", () => {
    // every operand is confined as a path (revisions resolve inside, so they pass)
    allowed("git", ["status"])
    allowed("git", ["log", "--oneline", "-n", "5"], ["5"])
    allowed("git", ["diff", "--stat", "HEAD~1"], ["HEAD~1"])
    allowed("git", ["--no-pager", "show", "HEAD:README.md"], ["HEAD:README.md"])
  })

  it("-C, --git-dir, --work-tree and --output values are reported as paths", () => {
    allowed("git", ["-C", "sub", "status"], ["sub"])
    allowed("git", ["-C", "/elsewhere", "status"], ["/elsewhere"])
    allowed("git", ["--git-dir=/x/y", "log"], ["/x/y"])
    allowed("git", ["--git-dir", "r/.git", "--work-tree", "r", "status"], ["r/.git", "r"])
    allowed("git", ["--work-tree=w", "status"], ["w"])
    allowed("git", ["diff", "--output", "out.patch"], ["out.patch"])
    allowed("git", ["diff", "--out=o.patch"], ["o.patch"])
  })

  it("after -C, relative paths are relative to its folder (as git reads them), unnormalised", () => {
    allowed("git", ["-C", "a", "-C", "b", "--git-dir=../g", "log", "--", "x"], ["a", "a/b", "a/b/../g", "a/b/x"])
    allowed("git", ["-C", "link", "diff", "--no-index", "../x", "/abs"], ["link", "link/../x", "/abs"])
  })

  it("messages and patterns are not paths; every other value and operand is", () => {
    allowed("git", ["log", "--grep=/api/", "--author", "/x", "-S/etc", "-G", "../x", "-pS", "/y"])
    allowed("git", ["log", "--format=%H/%s", "--gre=/api/", "--pretty=/x", "--committer=/z"])
    // --format and --pretty take a value only after "=": alone, the next word is an operand
    allowed("git", ["log", "--pretty", "/x", "--format", "../y"], ["/x", "../y"])
    allowed("git", ["grep", "/etc/passwd"])
    allowed("git", ["grep", "-e", "/etc/passwd", "src"], ["src"])
    allowed("git", ["grep", "-n", "needle", "--", "/etc"], ["/etc"])
    // a value or pattern option unknown for a subcommand: the next word is confined
    allowed("git", ["blame", "-S", "/etc/revs", "a.txt"], ["/etc/revs", "a.txt"])
    allowed("git", ["diff", "-O", "/etc/hostname"], ["/etc/hostname"])
    allowed("git", ["log", "-pO/etc/hostname"], ["/etc/hostname"])
    allowed("git", ["log", "-pOx/y"], ["x/y", "/y"])
    // git grep -f FILE: the first operand is then a path too
    allowed("git", ["grep", "-f", "/etc/hostname", "x"], ["/etc/hostname", "x"])
    allowed("git", ["grep", "-if/etc/hostname"], ["/etc/hostname"])
  })

  it("global options are read as git reads them: exactly, and refused when unknown", () => {
    refused("git", ["-C/etc", "status"], "git -C/etc is refused: it is not among the git options execute_command allows before the subcommand")
    refused("git", ["--git-di=/etc", "log"], "git --git-di=/etc is refused: it is not among the git options execute_command allows before the subcommand")
    refused("git", ["--shallow-file", "x", "log"], "git --shallow-file is refused: it is git's internal option to read a file git names")
    refused("git", ["--list-cmds", "main"], "git --list-cmds is refused: --list-cmds takes its value as --list-cmds=value")
    allowed("git", ["--version"])
    allowed("git", ["--no-pager", "-v"])
    allowed("git", ["-h"])
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

describe("curl and ping", () => {
  const curlRefusal =
    "curl is refused: its URL globs and lists, file:, dict: and gopher: URLs, redirects, proxies and config files " +
    "cannot be confined from its arguments; use fetch_url, which checks every address against tools.network"

  it("-K and --config are refused: they read options from a file", () => {
    for (const arg of ["-K", "--config", "--config=opts.txt", "--conf", "-sK"]) {
      refused("curl", [arg, "opts.txt", "https://example.com"], `curl ${arg} is refused: it reads options from a file`)
    }
  })

  it("everything else is refused with a pointer to fetch_url", () => {
    for (const args of [
      ["file:///etc/passwd"],
      ["-s", "{file:///etc/hostname,file:///etc/os-release}"],
      ["-g", "--proto", "=https", "https://example.com"],
      ["-o", "out.html", "https://example.com"],
      ["dict://127.0.0.1:11211/"],
      ["http://0x7f.1/"],
      []
    ]) {
      refused("curl", args, curlRefusal)
    }
  })

  it("ping is refused", () => {
    refused(
      "ping",
      ["-c", "1", "example.com"],
      "ping is refused: it reaches any address the router's host can, and execute_command cannot hold it to tools.network; fetch_url checks an address against it"
    )
  })
})

describe("programs without a table (added by an operator): path-looking words", () => {
  const node = { ...defaults, allowedCommands: ["node"] }
  it("absolute, parent-relative, home, --option=value, @file and attached values are reported", () => {
    allowed("node", ["/etc/passwd"], ["/etc/passwd"], node)
    allowed("node", ["../x"], ["../x"], node)
    allowed("node", ["a/../../b"], ["a/../../b"], node)
    allowed("node", ["~/x"], ["~/x"], node)
    allowed("node", ["--file=/etc/x", "y"], ["/etc/x"], node)
    allowed("node", ["-r/etc/x.js"], ["/etc/x.js"], node)
    allowed("node", ["--data=@../secret"], ["../secret"], node)
  })

  it("URLs, plain relative names and dots inside names are not paths, but are checked when they exist", () => {
    allowed("node", ["http://h/../x"], [], node)
    const result = plan("node", ["./ok", "notes/a.txt", "x..y", "-e", "-fname"], node)
    assert.deepStrictEqual(result.paths, [])
    assert.includeMembers([...result.operands], ["./ok", "notes/a.txt", "x..y", "name"])
  })
})

describe("grep, cat, head, tail, ls: read as getopt_long reads them", () => {
  it("every operand is a file; grep's first operand is the pattern unless -e or -f gave one", () => {
    allowed("cat", ["notes/a.txt", "x..y", "-n", "./ok"], ["notes/a.txt", "x..y", "./ok"])
    allowed("cat", ["--", "-n", "/etc/x"], ["-n", "/etc/x"])
    allowed("grep", ["/etc/passwd", "a.txt"], ["a.txt"])
    allowed("grep", ["-e", "/etc/passwd", "a.txt"], ["a.txt"])
    allowed("grep", ["-e/etc/passwd", "a.txt"], ["a.txt"])
    allowed("grep", ["-ie", "/etc/passwd", "a.txt"], ["a.txt"])
    allowed("grep", ["--regexp=/x", "a.txt", "b"], ["a.txt", "b"])
    allowed("grep", ["--reg", "/x", "a.txt"], ["a.txt"])
    allowed("grep", ["-f", "p.txt", "a.txt"], ["p.txt", "a.txt"])
    allowed("grep", ["--", "-x", "a.txt"], ["a.txt"])
    allowed("grep", ["a.txt", "-x", "/etc/x"], ["/etc/x"])
  })

  it("values of options that take one are read as such: the next word, or the rest of the group", () => {
    allowed("grep", ["-A", "/etc/x", "p", "f"], ["f"])
    allowed("grep", ["-C1", "p", "f"], ["f"])
    allowed("grep", ["-m", "1", "-rn", "p"], [])
    allowed("grep", ["--include", "*.ts", "--exclude=/etc", "--exclude-dir", "node_modules", "p", "."], ["."])
    allowed("grep", ["-xf/etc/hostname", "c"], ["/etc/hostname", "c"])
    allowed("grep", ["-rif", "/etc/hostname", "."], ["/etc/hostname", "."])
    allowed("grep", ["--exclude-fr=/etc/x", "p"], ["/etc/x"])
    allowed("grep", ["--exclude-from", "/etc/x", "p"], ["/etc/x"])
    allowed("grep", ["--color", "p", "f"], ["f"])
    allowed("grep", ["--col=never", "p", "f"], ["f"])
    allowed("ls", ["-I", "/etc", "-w80", "-T", "4", "d"], ["d"])
    allowed("head", ["-n", "-5", "f"], ["f"])
    allowed("tail", ["--follow=name", "--pid", "1", "-s", "2", "f"], ["f"])
    allowed("tail", ["--follow", "f"], ["f"])
  })

  it("head and tail: -NUM counts only as the first argument, where the next word is a file even after c", () => {
    allowed("head", ["-5", "f"], ["f"])
    allowed("head", ["-5c", "/etc/hostname"], ["/etc/hostname"])
    allowed("tail", ["-1c", "/etc/hostname"], ["/etc/hostname"])
    allowed("tail", ["-20lf", "f"], ["f"])
    allowed("tail", ["+5", "f"], ["+5", "f"])
    refused("head", ["f", "-5c", "/etc/hostname"], "head -5 (in -5c) is refused: a count is given as -n NUM (the form -NUM only as the first argument)")
    refused("tail", ["-n", "1", "-3"], "tail -3 is refused: a count is given as -n NUM or -c NUM (the form -NUM only as the first argument)")
  })

  it("long options: exact, unambiguous prefixes, and ambiguous prefixes refused", () => {
    allowed("cat", ["--squ", "--number", "f"], ["f"])
    refused("cat", ["--num", "f"], "cat --num is refused: --num is ambiguous (--number, --number-nonblank)")
    allowed("grep", ["--fixed", "x", "f"], ["f"]) // fixed-regexp and fixed-strings are the same option
    refused("grep", ["--fi=x", "p"], "grep --fi=x is refused: --fi is ambiguous (--file, --files-with-matches, --files-without-match, --fixed-regexp, --fixed-strings)")
    refused("grep", ["--count=2", "p"], "grep --count=2 is refused: --count takes no value")
    refused("ls", ["--=x"], "ls --=x is refused: it is not among the ls options execute_command allows")
  })

  it("unknown options are refused, not guessed", () => {
    refused("grep", ["-X", "egrep", "p"], "grep -X is refused: it is not among the grep options execute_command allows")
    refused("grep", ["-rJ", "p"], "grep -J (in -rJ) is refused: it is not among the grep options execute_command allows")
    refused("cat", ["--show"], "cat --show is refused: --show is ambiguous (--show-all, --show-ends, --show-nonprinting, --show-tabs)")
    refused("tail", ["---disable-inotify", "f"], "tail ---disable-inotify is refused: it is not among the tail options execute_command allows")
    refused("ls", ["-j"], "ls -j is refused: it is not among the ls options execute_command allows")
  })

  it("options that follow symbolic links out of the tree are refused", () => {
    refusedStarting("grep", ["-R", "p"], "grep -R is refused: it follows symbolic links")
    refusedStarting("grep", ["--dereference-r", "p"], "grep --dereference-r is refused: it follows symbolic links")
    refusedStarting("ls", ["-RL"], "ls -L (in -RL) is refused: it follows symbolic links")
    refusedStarting("ls", ["--dereference"], "ls --dereference is refused: it follows symbolic links")
    allowed("ls", ["-H", "--dereference-command-line-symlink-to-dir", "d"], ["d"])
  })
})

describe("find: its own expression syntax", () => {
  it("starting points are paths, and so are the files of -newer, -anewer, -cnewer, -samefile and -newerXY", () => {
    allowed("find", [], [])
    allowed("find", ["-H", "-O3", "-D", "stat", "a", "b", "-print"], ["a", "b"])
    allowed("find", ["--", "a"], ["a"])
    allowed("find", ["-", "-name", "x"], ["-"])
    allowed("find", [".", "-anewer", "/a", "-cnewer", "/b", "-samefile", "/c", "-newerma", "/d", "-newermt", "2024-01-01"], [".", "/a", "/b", "/c", "/d"])
    allowed("find", [".", "(", "-name", "/etc/*", "-o", "-path", "../*", ")", "!", "-regex", "/x", ",", "-printf", "%p/../\\n"], ["."])
  })

  it("-L, -follow, -files0-from, unknown expressions and paths after the expression are refused", () => {
    refusedStarting("find", ["-L", "."], "find -L is refused: it follows symbolic links")
    refusedStarting("find", [".", "-follow"], "find -follow is refused: it follows symbolic links")
    refusedStarting("find", ["-files0-from", "l"], "find -files0-from is refused: it reads the starting points from a file")
    refused("find", ["-HL", "."], "find -HL is refused: it is not among the find expressions execute_command allows")
    refused("find", [".", "-name", "x", "/etc"], "find /etc is refused: starting points must come before the expression")
    refused("find", [".", "-newerXY", "f"], "find -newerXY is refused: it is not among the find expressions execute_command allows")
  })
})

describe("docker: pflag, exact names", () => {
  it("the default subcommands' options, with values in every form; operands are names, not files", () => {
    allowed("docker", ["ps", "-aq", "-n", "3", "--filter=status=exited", "--format", "{{.ID}}"])
    allowed("docker", ["ps", "-n3", "--all=false"])
    allowed("docker", ["logs", "-f", "--tail", "10", "/etc/passwd"])
    allowed("docker", ["inspect", "-f", "{{.Id}}", "--type", "container", "x"])
    allowed("docker", ["-D", "-l", "debug", "version", "--format=json"])
  })

  it("unknown and abbreviated options are refused (pflag takes exact names)", () => {
    refused("docker", ["ps", "--form", "x"], "docker --form is refused: it is not among the docker options execute_command allows")
    refused("docker", ["--tlsc=/x", "ps"], "docker --tlsc=/x is refused: it is not among the docker options execute_command allows")
    refused("docker", ["ps", "-x"], "docker -x is refused: it is not among the docker options execute_command allows")
    for (const arg of ["--tlscacert", "--tlscert", "--tlskey"]) {
      refused("docker", [arg, "/etc/x", "ps"], `docker ${arg} is refused: it changes which daemon or credentials docker uses`)
    }
    refused("docker", ["-DHunix:///x", "ps"], "docker -H (in -DHunix:///x) is refused: it changes which daemon or credentials docker uses")
  })
})

describe("every spelling from the shared table: the outside target is refused or reported as a path", () => {
  const targets = ["/etc/hostname", "/etc", "../out/secret", "self/../out", "out/w"]
  const groups = [readSpellings, dirSpellings, writeSpellings]
  for (const command of ["grep", "cat", "head", "tail", "ls", "find", "git", "docker"]) {
    it(command, () => {
      let count = 0
      for (const group of groups) {
        for (const spell of group[command] ?? []) {
          for (const target of targets) {
            const args = spell(target)
            const result = plan(command, args)
            const reported = result.paths.some((p) => p === target || p.endsWith(`/${target}`) || p.endsWith(target))
            assert.isTrue(result.refusal !== undefined || reported, `${command} ${JSON.stringify(args)}: paths ${JSON.stringify(result.paths)}`)
            count++
          }
        }
      }
      assert.isAbove(count, 20)
    })
  }
})

describe("physicalPath: where a program's path leads", () => {
  it("takes .. after symbolic links, as the kernel does", async () => {
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-physical-")))
    try {
      fs.mkdirSync(path.join(base, "root", "sub"), { recursive: true })
      fs.mkdirSync(path.join(base, "elsewhere", "deep"), { recursive: true })
      fs.symlinkSync(path.join(base, "root"), path.join(base, "root", "self"))
      fs.symlinkSync(path.join(base, "elsewhere", "deep"), path.join(base, "root", "far"))
      const root = path.join(base, "root")
      assert.strictEqual(await physicalPath(root, "sub/../x"), path.join(root, "x"))
      assert.strictEqual(await physicalPath(root, "self/../elsewhere/s"), path.join(base, "elsewhere", "s"))
      assert.strictEqual(await physicalPath(root, "far/../x"), path.join(base, "elsewhere", "x"))
      assert.strictEqual(await physicalPath(root, "missing/../x"), path.join(root, "x"))
      assert.strictEqual(await physicalPath(root, "/etc/./hostname"), "/etc/hostname")
      assert.strictEqual(await physicalPath(root, "./a//b/"), path.join(root, "a", "b"))
      assert.strictEqual(await physicalPath(root, "../.."), path.dirname(base))
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  })
})

describe("attached short-option values", () => {
  it("curl -Kfile (attached) is refused like -K file", () => {
    assert.isDefined(plan("curl", ["-sKopts.txt"]).refusal)
  })

  it("curl -o/path and -d @/path: curl is refused altogether", () => {
    assert.isDefined(plan("curl", ["-o/tmp/x", "https://example.com"]).refusal)
    assert.isDefined(plan("curl", ["--data-binary", "@/etc/passwd", "https://example.com"]).refusal)
  })

  it("git rebase -xcmd (attached) is refused like -x cmd", () => {
    assert.isDefined(plan("git", ["rebase", "-xtouch pwned", "HEAD~1"]).refusal)
  })

  it("docker -Htcp://... (attached) is refused like -H", () => {
    assert.isDefined(plan("docker", ["-Htcp://10.0.0.1:2375", "ps"]).refusal)
  })
})
