import type { Histogram } from '../../base/histogram.ts'

/** One request being timed: its id (-1: none) and when it was sent (performance.now(), ms). */
export interface RequestTiming {
  id: number
  at: number
}

/**
 * Request round-trip times through the tunnel (sent → first reply), into a histogram. The time
 * lives on the flow (or the uhppoted request), one request at a time: a client that pipelines
 * requests on one flow gets its first one timed, the next once that one is answered or has
 * waited out --udp-timeout. So timing costs two numbers per flow and no allocation per request.
 */
export class RoundTrips {
  private readonly histogram: Histogram
  private readonly staleMs: number

  constructor(histogram: Histogram, udpTimeoutMs: number) {
    this.histogram = histogram
    this.staleMs = udpTimeoutMs
  }

  sent(timing: RequestTiming, id: number, now: number = performance.now()): void {
    if (timing.id >= 0 && now - timing.at < this.staleMs) return
    timing.id = id
    timing.at = now
  }

  replied(timing: RequestTiming, id: number, now: number = performance.now()): void {
    if (timing.id !== id) return
    timing.id = -1
    this.histogram.observe((now - timing.at) / 1000)
  }
}
