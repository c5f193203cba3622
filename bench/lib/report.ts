/** Medians over rounds, and the side-by-side table (console and Markdown). */
import type { RunResult } from "./load.ts"

export const median = (values: ReadonlyArray<number>) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export interface RoundResult extends RunResult {
  readonly round: number
  /** Highest RSS of the server process sampled during the run, bytes. */
  readonly peakRss: number
  /** CPU used by processes outside the bench during the run, in cores (noise on a shared machine). */
  readonly otherCpu: number
}

export interface ServerSummary {
  readonly server: string
  readonly rounds: ReadonlyArray<RoundResult>
  /** Medians over the rounds. */
  readonly reqPerSec: number
  readonly p50: number
  readonly p99: number
  /** Highest over the rounds. */
  readonly peakRss: number
  /** Sums over the rounds. */
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly mismatches: number
  readonly statusCodes: Record<string, number>
  /** Highest over the rounds, in cores. */
  readonly otherCpu: number
}

export const summarize = (server: string, rounds: ReadonlyArray<RoundResult>): ServerSummary => {
  const statusCodes: Record<string, number> = {}
  for (const round of rounds) for (const [code, count] of Object.entries(round.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count
  return {
    server,
    rounds,
    reqPerSec: median(rounds.map((r) => r.reqPerSec)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    peakRss: Math.max(0, ...rounds.map((r) => r.peakRss)),
    non2xx: rounds.reduce((n, r) => n + r.non2xx, 0),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    timeouts: rounds.reduce((n, r) => n + r.timeouts, 0),
    mismatches: rounds.reduce((n, r) => n + r.mismatches, 0),
    statusCodes,
    otherCpu: Math.max(0, ...rounds.map((r) => r.otherCpu))
  }
}

export interface Row {
  readonly scenario: string
  readonly server: string
  readonly reqPerSec: string
  readonly p50: string
  readonly p99: string
  readonly peakRss: string
  readonly ratio: string
  readonly problems: string
}

const mb = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`
const ms = (value: number) => (Number.isNaN(value) ? "—" : value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`)
const int = (value: number) => (Number.isNaN(value) ? "—" : Math.round(value).toLocaleString("en-US"))

/** What went wrong over the rounds: non-2xx answers (by status), wrong bodies, socket errors, timeouts. */
export const problemsOf = (summary: Pick<ServerSummary, "non2xx" | "errors" | "timeouts" | "mismatches" | "statusCodes">) => {
  const parts: Array<string> = []
  if (summary.non2xx > 0) {
    const codes = Object.entries(summary.statusCodes).filter(([code]) => !code.startsWith("2")).map(([code, n]) => `${n}×${code}`)
    parts.push(`${summary.non2xx} non-2xx${codes.length > 0 ? ` (${codes.join(", ")})` : ""}`)
  }
  if (summary.mismatches > 0) parts.push(`${summary.mismatches} wrong body`)
  if (summary.errors > 0) parts.push(`${summary.errors} errors`)
  if (summary.timeouts > 0) parts.push(`${summary.timeouts} timeouts`)
  return parts.length === 0 ? "none" : parts.join("; ")
}

export const throughputRows = (scenario: string, router: ServerSummary, reference: ServerSummary | undefined): Array<Row> => {
  const row = (summary: ServerSummary, ratio: string): Row => ({
    scenario,
    server: summary.server,
    reqPerSec: int(summary.reqPerSec),
    p50: ms(summary.p50),
    p99: ms(summary.p99),
    peakRss: mb(summary.peakRss),
    ratio,
    problems: problemsOf(summary)
  })
  if (reference === undefined) return [row(router, "—")]
  return [row(router, `${(router.reqPerSec / reference.reqPerSec).toFixed(2)}x`), row(reference, "")]
}

export interface SessionsSummary {
  readonly server: string
  readonly sessions: number
  readonly rssBefore: number
  readonly rssAfter: number
  readonly peakRss: number
  readonly openSeconds: number
  readonly initializeP50: number
  readonly initializeP99: number
}

export const sessionRows = (router: SessionsSummary, reference: SessionsSummary): Array<Row> => {
  const growth = (s: SessionsSummary) => s.rssAfter - s.rssBefore
  const row = (s: SessionsSummary, ratio: string): Row => ({
    scenario: `${s.sessions.toLocaleString("en-US")} idle sessions: RSS +${mb(growth(s))} (${Math.round(growth(s) / s.sessions / 1024)} KB each)`,
    server: s.server,
    reqPerSec: `${int(s.sessions / s.openSeconds)} sessions/s`,
    p50: ms(s.initializeP50),
    p99: ms(s.initializeP99),
    peakRss: mb(s.peakRss),
    ratio,
    problems: "none"
  })
  return [row(router, `${(growth(router) / growth(reference)).toFixed(2)}x RSS growth`), row(reference, "")]
}

export const header = ["Scenario", "Server", "req/s", "p50", "p99", "peak RSS", "router/ref", "errors, non-2xx"]
export const cells = (row: Row) => [row.scenario, row.server, row.reqPerSec, row.p50, row.p99, row.peakRss, row.ratio, row.problems]

/** A plain-text table; the columns in `right` are right-aligned. */
export const renderConsole = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlySet<number>) => {
  const lines = [head, ...rows]
  const widths = head.map((_, i) => Math.max(...lines.map((line) => line[i]!.length)))
  const format = (line: ReadonlyArray<string>) => line.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd()
  return [format(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(format)].join("\n")
}

/** A Markdown table; the columns in `right` are right-aligned. */
export const renderMarkdown = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlySet<number>) =>
  [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (right.has(i) ? "---:" : "---")).join("|")}|`,
    ...rows.map((row) => `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`)
  ].join("\n")

export const mainRight: ReadonlySet<number> = new Set([2, 3, 4, 5, 6])

export interface StartSummary {
  readonly server: string
  readonly starts: ReadonlyArray<number>
  readonly idleRss: ReadonlyArray<number>
}

export const startHeader = ["Server", "starts", "start to first /health/live (median)", "RSS right after start (median)"]
export const startRight: ReadonlySet<number> = new Set([1, 2, 3])
export const startCells = (s: StartSummary) => [s.server, String(s.starts.length), `${Math.round(median(s.starts))} ms`, mb(median(s.idleRss))]
