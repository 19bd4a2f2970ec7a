#ifndef RAG_CPREFETCH_H
#define RAG_CPREFETCH_H

/// Cache-prefetch hints, which Swift has no spelling for. Static inline: Swift inlines them,
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

#endif
