#ifndef RAG_CPREFETCH_H
#define RAG_CPREFETCH_H

/// Cache-prefetch and spin-wait hints, which Swift has no spelling for. Static inline: Swift inlines them,
/// so each is one prefetch instruction in the caller. A hint never faults.

/// Asks for the cache line holding `address` (and the next one) to be loaded into all levels.
static inline void rag_prefetch2(const void *address) {
    __builtin_prefetch(address, 0, 3);
    __builtin_prefetch((const char *)address + 64, 0, 3);
}

/// Asks for one cache line.
static inline void rag_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// Tells the core this is a spin-wait loop (x86 `pause`): saves power and leaves the pipeline to
/// the other hardware thread.
static inline void rag_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
