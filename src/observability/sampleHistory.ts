/**
 * The bounded in-memory history of samples: every sample in one ring, and one aggregate per minute in a
 * second, coarser ring. A minute is rolled up when the first sample of the next minute arrives.
 */
import { between, memoryPercent, type Reading, type Sample } from "./readings.ts"

/** A minute of samples: sums of the counts, p95 and error rate over the whole minute, CPU averaged, the rest at its peak. */
export interface MinuteAggregate extends Sample {
  readonly samples: number
}

interface OpenMinute {
  readonly minute: number
  /** The last reading before this minute: the minute's counts are measured from it. */
  readonly baseline: Reading
  readonly samples: Array<{ readonly sample: Sample; readonly reading: Reading }>
}

const minuteOf = (atMs: number) => Math.floor(atMs / 60_000)
const peak = (samples: ReadonlyArray<Sample>, of: (s: Sample) => number) => Math.max(...samples.map(of))

const rollUp = (open: OpenMinute, cores: number): MinuteAggregate => {
  const samples = open.samples.map((s) => s.sample)
  const last = open.samples[open.samples.length - 1]!
  const { intervalMs, toolCalls, toolErrors, errorRatePercent, p95Ms, httpRequests } = between(open.baseline, last.reading, cores)
  const limitBytes = last.sample.memory.limitBytes
  const rssBytes = peak(samples, (s) => s.memory.rssBytes)
  return {
    at: new Date(open.minute * 60_000).toISOString(),
    intervalMs,
    samples: samples.length,
    memory: { rssBytes, heapUsedBytes: peak(samples, (s) => s.memory.heapUsedBytes), limitBytes, percent: memoryPercent(rssBytes, limitBytes) },
    cpuPercent: Math.round((samples.reduce((sum, s) => sum + s.cpuPercent, 0) / samples.length) * 100) / 100,
    eventLoopDelayMs: peak(samples, (s) => s.eventLoopDelayMs),
    toolCalls,
    toolErrors,
    errorRatePercent,
    p95Ms,
    httpRequests,
    toolCallsInFlight: peak(samples, (s) => s.toolCallsInFlight),
    websocketConnections: peak(samples, (s) => s.websocketConnections)
  }
}

const pushBounded = <A>(ring: Array<A>, item: A, capacity: number) => {
  ring.push(item)
  if (ring.length > capacity) ring.splice(0, ring.length - capacity)
}

export const makeSampleHistory = (initial: Reading, cores: number) => {
  const samples: Array<Sample> = []
  const minutes: Array<MinuteAggregate> = []
  let previous = initial
  let open: OpenMinute | undefined
  return {
    /** Adds a sample and the reading it was made from; capacities are read per call, so configuration changes apply. */
    add: (sample: Sample, reading: Reading, capacity: { readonly samples: number; readonly minutes: number }) => {
      const minute = minuteOf(reading.atMs)
      if (open !== undefined && open.minute !== minute) {
        pushBounded(minutes, rollUp(open, cores), capacity.minutes)
        open = undefined
      }
      open ??= { minute, baseline: previous, samples: [] }
      open.samples.push({ sample, reading })
      pushBounded(samples, sample, capacity.samples)
      previous = reading
    },
    /** The last reading: the next sample's interval starts here. */
    previous: () => previous,
    samples: (sinceMs: number): ReadonlyArray<Sample> => samples.filter((s) => Date.parse(s.at) > sinceMs),
    minutes: (sinceMs: number): ReadonlyArray<MinuteAggregate> => minutes.filter((m) => Date.parse(m.at) + 60_000 > sinceMs)
  }
}
