#include "CICUShim.h"
#include <stdlib.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

struct rag_sentence_iterator {
    UText *text;
    UBreakIterator *breaks;
    int cached;  // `breaks` is this thread's cached iterator: keep it open on close
};

// Opening an iterator with `ss=standard` builds the abbreviation filter, which costs far more
// than splitting a short document. Each thread keeps one iterator and re-targets it.
static __thread UBreakIterator *thread_breaks = NULL;
static __thread int thread_breaks_in_use = 0;

rag_sentence_iterator *rag_sentences_open(const char *utf8, int64_t length, int32_t *status) {
    UErrorCode error = U_ZERO_ERROR;
    rag_sentence_iterator *it = calloc(1, sizeof *it);
    if (!it) { *status = U_MEMORY_ALLOCATION_ERROR; return NULL; }
    it->text = utext_openUTF8(NULL, utf8, length, &error);
    if (U_SUCCESS(error)) {
        if (!thread_breaks_in_use && thread_breaks) {
            it->breaks = thread_breaks;
            it->cached = 1;
        } else {
            it->breaks = ubrk_open(UBRK_SENTENCE, "en_US@ss=standard", NULL, 0, &error);
            if (U_SUCCESS(error) && !thread_breaks) {
                thread_breaks = it->breaks;
                it->cached = 1;
            }
        }
        if (it->cached) thread_breaks_in_use = 1;
    }
    if (U_SUCCESS(error)) ubrk_setUText(it->breaks, it->text, &error);
    if (U_FAILURE(error)) {
        rag_sentences_close(it);
        *status = error;
        return NULL;
    }
    ubrk_first(it->breaks);
    *status = 0;
    return it;
}

int64_t rag_sentences_next(rag_sentence_iterator *it) {
    int32_t next = ubrk_next(it->breaks);
    return next == UBRK_DONE ? -1 : (int64_t)next;
}

void rag_sentences_close(rag_sentence_iterator *it) {
    if (!it) return;
    if (it->breaks) {
        if (it->cached) thread_breaks_in_use = 0; else ubrk_close(it->breaks);
    }
    if (it->text) utext_close(it->text);
    free(it);
}

const char *rag_icu_error_name(int32_t status) { return u_errorName((UErrorCode)status); }
