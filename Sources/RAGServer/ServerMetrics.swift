internal import Foundation
internal import Prometheus

/// The Prometheus metrics of one server (its own registry, so servers in one process — tests —
/// do not share counts).
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let retrieval: DurationHistogram
    private let prefill: ValueHistogram
    private let decode: ValueHistogram
    private let timeToFirstToken: DurationHistogram
    private let cacheHits: Counter
    private let cacheMisses: Counter
    private let queueDepth: Gauge
    private let running: Gauge
    private let slots: Gauge
    private let rejected: Counter
    private let cancelled: Counter
    private let writeTimeouts: Counter

    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    init() {
        retrieval = registry.makeDurationHistogram(
            name: "rag_retrieval_seconds", buckets: Self.latencyBuckets, help: "Time to retrieve the sources of a question.")
        prefill = registry.makeValueHistogram(
            name: "rag_prefill_tokens_per_second", buckets: [10, 25, 50, 100, 200, 400, 800, 1600],
            help: "Prompt tokens computed per second, per generation.")
        decode = registry.makeValueHistogram(
            name: "rag_decode_tokens_per_second", buckets: [2, 5, 10, 15, 20, 30, 40, 60, 80],
            help: "Tokens generated per second, per generation.")
        timeToFirstToken = registry.makeDurationHistogram(
            name: "rag_time_to_first_token_seconds", buckets: Self.latencyBuckets, help: "From the start of a generation to its first token.")
        cacheHits = registry.makeCounter(name: "rag_answer_cache_hits_total", help: "Questions answered from the answer cache.")
        cacheMisses = registry.makeCounter(name: "rag_answer_cache_misses_total", help: "Questions the answer cache did not hold.")
        queueDepth = registry.makeGauge(name: "rag_generation_queue_depth", help: "Generations running or waiting.")
        running = registry.makeGauge(name: "rag_generation_running", help: "Generations running now (decoded together).")
        slots = registry.makeGauge(name: "rag_generation_slots", help: "Generations that may run at once (rag serve --parallel).")
        rejected = registry.makeCounter(name: "rag_generation_rejected_total", help: "Requests refused because the generation queue was full.")
        cancelled = registry.makeCounter(name: "rag_generation_cancelled_total", help: "Generations stopped because the client went away.")
        writeTimeouts = registry.makeCounter(
            name: "rag_http_write_timeouts_total", help: "Connections reset because a response write waited longer than the write timeout.")
    }

    func request(route: String, method: String, status: Int, seconds: Double) {
        registry.makeCounter(
            name: "rag_http_requests_total", labels: [("route", route), ("method", method), ("status", String(status))],
            help: "HTTP requests by route, method and status."
        ).increment()
        registry.makeDurationHistogram(
            name: "rag_http_request_duration_seconds", labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets,
            help: "Time to the response's head (streamed bodies continue after), by route."
        ).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    func retrieved(milliseconds: Double) { retrieval.record(.nanoseconds(Int64(milliseconds * 1e6))) }

    func generated(prefillPerSecond: Double, decodePerSecond: Double, firstToken: Double) {
        if prefillPerSecond > 0 { prefill.record(prefillPerSecond) }
        if decodePerSecond > 0 { decode.record(decodePerSecond) }
        timeToFirstToken.record(.nanoseconds(Int64(firstToken * 1e9)))
    }

    func cache(hit: Bool) { (hit ? cacheHits : cacheMisses).increment() }
    func queue(running: Int, waiting: Int) {
        queueDepth.set(Int64(running + waiting))
        self.running.set(Int64(running))
    }
    func generation(slots: Int) { self.slots.set(Int64(slots)) }
    func rejectedByQueue() { rejected.increment() }
    func cancelledByClient() { cancelled.increment() }
    func writeTimedOut() { writeTimeouts.increment() }

    func text() -> String { registry.emitToString() }
}
