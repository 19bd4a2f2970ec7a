internal import CPrefetch
internal import RAGCore
#if canImport(Glibc)
internal import Glibc
#endif
internal import Synchronization

/// A fixed set of threads for the small, frequent jobs of decoding (a token is ~170 matrix
/// products and attentions of tens of microseconds each): the caller publishes a job by bumping a
/// generation counter, the workers — spinning on it for a short while, then parked on a
/// condition variable — run their share, and the caller takes part as thread 0 and waits on one
/// counter. One barrier per job, no queue, no allocation.
///
/// Not reentrant: one job at a time (a Session is used by one thread at a time).
public final class WorkerPool: @unchecked Sendable {
    public let threads: Int
    /// Spin iterations (each one `pause`, ~25 ns on these cores) before a worker parks: about a
    /// millisecond, longer than any gap between a token's jobs (the serial work between products
    /// of a 4-token step takes up to ~0.2 ms), since a parked worker takes tens of microseconds to
    /// wake and the caller waits for it at the barrier.
    static let spinLimit = 40000

    private let generation = Atomic<Int>(0)
    private let unfinished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Set by `rest()`: spinning workers park at once (until the next job clears it).
    private let resting = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var workers: [pthread_t] = []
    /// Jobs run so far (for the benchmark's synchronisation figure).
    public private(set) var jobs = 0

    public init(threads: Int) {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        for index in 1..<self.threads {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                ThreadPriority.applyBackground()
                context.pool.work(index: context.index)
                return nil
            }, context)
            precondition(status == 0, "cannot start a worker thread (pthread_create: \(status))")
            workers.append(thread)
        }
    }

    /// Stops and joins the workers; the owner calls it when done (the workers hold the pool).
    public func shutdown() {
        guard !workers.isEmpty else { return }
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        for thread in workers { pthread_join(thread, nil) }
        workers = []
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `body(thread)` once on each of the `threads` threads (the caller is thread 0) and
    /// returns when all are done.
    public func run(_ body: (_ thread: Int) -> Void) {
        jobs += 1
        if threads == 1 { return body(0) }
        withoutActuallyEscaping(body) { body in
            job = body
            resting.store(false, ordering: .relaxed)
            unfinished.store(threads - 1, ordering: .releasing)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
            }
            body(0)
            while unfinished.load(ordering: .acquiring) > 0 { rag_spin_pause() }
            job = nil
        }
    }

    /// Lets the workers park now instead of spinning for the next job: for when another pool
    /// (a second model's) is about to use the cores.
    public func rest() {
        resting.store(true, ordering: .relaxed)
    }

    /// `body(item, thread)` for every item in 0..<count, items strided over the threads.
    public func forEach(_ count: Int, _ body: (_ item: Int, _ thread: Int) -> Void) {
        if count <= 1 || threads == 1 {
            jobs += 1
            for item in 0..<count { body(item, 0) }
            return
        }
        let threads = self.threads
        run { thread in
            var item = thread
            while item < count {
                body(item, thread)
                item += threads
            }
        }
    }

    private func work(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit && !resting.load(ordering: .relaxed) {
                    rag_spin_pause()
                    continue
                }
                // Park: the caller broadcasts after a bump whenever it sees a sleeper, and the
                // generation is re-read under the mutex, so no wake-up is lost.
                sleepers.add(1, ordering: .sequentiallyConsistent)
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .sequentiallyConsistent) == seen {
                    pthread_cond_wait(&condition, &mutex)
                }
                pthread_mutex_unlock(&mutex)
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            job?(index)
            unfinished.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
